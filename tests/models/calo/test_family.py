"""The flagship family end to end: what its critics see, its moment penalty, training, checkpointing
and generation in physical units."""

import numpy as np
import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.models import build_model
from hepgan.models.calo import StripEratio, feature_dim, summary_moments
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from hepgan.train.generator import TrainedGenerator
from tests.helpers import shower_config
from tests.models.calo._helpers import CALO_MODEL


def test_family_trains_checkpoints_and_generates_physical_showers(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=CALO_MODEL,
                                             schedule={"steps": 4, "batch_size": 32, "n_critic": 2, "ema_decay": 0.9}))
    trainer = Trainer(config)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.fit()
    assert result.steps == 4
    moved = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("generator.body") for k in moved)
    assert any(k.startswith("critics.summary") for k in moved)
    gen = TrainedGenerator.from_run(tmp_path / "run")
    energies = np.array([2000.0, 8000.0, 32000.0] * 20)
    eta = np.full(60, 0.22)
    showers = gen.generate({"energy": energies, "impact_eta": eta}, seed=5)
    again = TrainedGenerator.from_run(tmp_path / "run").generate({"energy": energies, "impact_eta": eta}, seed=5)
    np.testing.assert_array_equal(showers, again)  # the fitted standardisation travels with the checkpoint
    assert showers.shape == (60, 266) and (showers >= 0).all()
    response = showers.sum(1) / energies
    assert 0.8 < np.median(response) < 1.05  # starts at the conditional mean shower: about 0.97


def test_family_needs_a_geometry_and_the_right_output_width():
    config = ModelConfig(**CALO_MODEL)
    with pytest.raises(ConfigError, match="known geometry"):
        build_model(config, (266,), 2, None)
    with pytest.raises(ConfigError, match="needs samples of 266 cells"):
        build_model(config, (1, 28, 28), 2, "atlas266")
    wrong = ModelConfig(**{**CALO_MODEL, "generator": "CONCAT, DENSE|32|SWISH, DENSE|266|LINEAR"})
    with pytest.raises(ConfigError, match=r"\(271,\) is needed"):
        build_model(wrong, (266,), 2, "atlas266")


def test_the_recipe_trains_on_the_calochallenge_binning(tmp_path):
    from hepgan.data.hdf5 import write_showers
    from hepgan.sim import SimConfig, simulate

    path = tmp_path / "cc1.h5"
    write_showers(path, simulate(SimConfig(geometry="calochallenge-1-photons", energies_gev=[4.0, 64.0],
                                           events_per_energy=100, seed=2)))
    model = {**CALO_MODEL, "generator": f"CONCAT, DENSE|32|SWISH, DENSE|{feature_dim('calochallenge-1-photons')}|LINEAR"}
    config = load_train_config(shower_config(tmp_path / "run", path, model=model,
                                             data={"conditions": ["energy"]}, schedule={"steps": 2, "batch_size": 32}))
    Trainer(config).fit()
    gen = TrainedGenerator.from_run(tmp_path / "run")
    showers = gen.generate_showers({"energy": np.full(10, 16000.0)}, seed=1)
    assert showers.showers.shape == (10, 368) and showers.geometry == "calochallenge-1-photons"
    assert (showers.showers >= 0).all()


def test_shape_summaries_reach_both_critics(tmp_path, shower_file):
    model = {**CALO_MODEL, "calo": {"shape_summaries": True}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 2, "batch_size": 32}))
    trainer = Trainer(config)
    x, cond = trainer.data.train.x[:64], trainer.data.train.cond[:64]
    view = trainer.model.critic_view(x, cond)
    assert view.shape == (64, 271 + 28)
    assert trainer.model.summary_view(view).shape == (64, 5 + 28)
    z = view[:, 271:]  # standardised on the training data
    assert abs(float(z.mean())) < 0.3 and 0.5 < float(z.std()) < 1.5
    trainer.fit()


def test_linear_shares_reach_the_main_critic_only(tmp_path, shower_file):
    model = {**CALO_MODEL, "calo": {"shape_summaries": True, "linear_shares": True}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 2, "batch_size": 32}))
    trainer = Trainer(config)
    x, cond = trainer.data.train.x[:64], trainer.data.train.cond[:64]
    view = trainer.model.critic_view(x, cond)
    assert view.shape == (64, 271 + 28 + 266)
    summary = trainer.model.summary_view(view)
    torch.testing.assert_close(summary[:, 5:], view[:, 271 : 271 + 28])  # the shape summaries, not the shares
    linear = view[:, 271 + 28 :]
    torch.testing.assert_close(linear, trainer.model.linear_shares(x, cond))
    assert abs(float(linear.mean())) < 0.3  # standardised on the training data
    trainer.fit()
    assert TrainedGenerator.from_run(tmp_path / "run").generate(
        {"energy": np.full(4, 10_000.0), "impact_eta": np.zeros(4)}).shape == (4, 266)


def test_moment_penalty_pulls_the_generated_summaries_to_unit_width(tmp_path, shower_file):
    """moment_weight adds (mean z)^2 + (ln std z)^2 of the standardised summaries to the generator
    loss; a generator whose summaries are too narrow gets a gradient that widens them."""
    model = {**CALO_MODEL, "calo": {"moment_weight": 1.0, "gaussian_path": "none"}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 2, "batch_size": 32}))
    trainer = Trainer(config)
    cond = trainer.data.train.cond[:256]
    gen, features = trainer.model.generator, trainer.model.features

    def response_width():
        torch.manual_seed(0)
        return features(gen(torch.randn(256, trainer.model.latent_dim), cond), cond)[:, 0].std()

    torch.manual_seed(0)
    with_penalty, logs = trainer.model.generator_loss(cond, 256)
    assert logs["moment"] > 0.5  # the untrained head starts near the conditional mean: widths ~ 0
    trainer.model.config.calo.moment_weight = 0.0
    torch.manual_seed(0)
    without, _ = trainer.model.generator_loss(cond, 256)
    last = [m for m in gen.body.modules() if isinstance(m, torch.nn.Linear)][-1].weight
    (grad,) = torch.autograd.grad(with_penalty - without, last)
    with torch.no_grad():
        before = float(response_width())
        last -= 0.05 * grad / grad.norm()
        assert float(response_width()) > before
    trainer.model.config.calo.moment_weight = 1.0
    trainer.fit()
    assert "moment" in (tmp_path / "run/metrics.jsonl").read_text()


def test_grouped_moments_see_widths_that_cancel_over_the_energies():
    """Too narrow at low energy and too wide at high energy: pooled, the batch's width is about 1;
    within groups of similar energy it is not."""
    torch.manual_seed(0)
    cond = torch.linspace(-1.0, 1.0, 256)[:, None]
    z = torch.randn(256, 3) * torch.where(cond < 0, 0.6, 1.3)
    pooled, grouped = summary_moments(z, cond, groups=1), summary_moments(z, cond, groups=8)
    assert float(pooled) < 0.02 and float(grouped) > 0.1
    shuffled = torch.randperm(256)  # the groups follow the energy, not the batch order
    assert float(summary_moments(z[shuffled], cond[shuffled], 8)) == pytest.approx(float(grouped), rel=1e-5)


def test_grouped_moments_are_smallest_at_the_true_width():
    """Averaged over many batches of N(0, 1) summaries, the penalty is lowest at width 1. Without
    the small-sample corrections it would be lowest ~3 % below (the squared mean's noise falls
    with the width) or ~1.6 % above (ln std is biased low)."""
    torch.manual_seed(1)
    z, cond = torch.randn(400, 256, 4), torch.rand(256, 1)
    def mean_penalty(width):
        return float(torch.stack([summary_moments(width * batch, cond, 8) for batch in z]).mean())
    penalties = {w: mean_penalty(w) for w in (0.985, 1.0, 1.015)}
    assert penalties[1.0] < penalties[0.985] and penalties[1.0] < penalties[1.015]


def test_eratio_moments_need_strips_and_the_moment_penalty():
    with pytest.raises(ConfigError, match="set calo.moment_weight > 0"):
        build_model(ModelConfig(**{**CALO_MODEL, "calo": {"eratio_moments": True}}), (266,), 1, geometry="atlas266")
    with pytest.raises(ConfigError, match="grid layer named 'strips'"):
        StripEratio("calochallenge-1-photons", cond_dim=1, degree=0)


def test_eratio_moments_join_the_moment_penalty(tmp_path, shower_file):
    model = {**CALO_MODEL, "calo": {"moment_weight": 1.0, "eratio_moments": True}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 2, "batch_size": 32}))
    trainer = Trainer(config)
    x, cond = trainer.data.train.x, trainer.data.train.cond
    z = trainer.model.eratio(x, cond)
    assert abs(float(z.mean())) < 0.1 and float(z.std()) == pytest.approx(1.0, abs=0.15)  # fitted on the data
    trainer.model.eratio.standardiser.mean_coef += 5.0  # generated E_ratio now far below the (moved) data's
    _, logs = trainer.model.generator_loss(cond[:64], 64)
    assert logs["moment"] > 25.0 / 6  # (5 widths)^2 over the 6 summaries
    trainer.fit()


def test_precomputed_real_views_and_one_pass_fakes_give_the_critic_loss_of_the_plain_path(tmp_path, shower_file):
    """The trainer computes the training showers' standardised features once and every fake batch
    of a step in one pass; the critic loss is the one each update computing its own would give."""
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=CALO_MODEL,
                                             schedule={"steps": 2, "batch_size": 32, "n_critic": 2}))
    trainer = Trainer(config)
    model, data = trainer.model, trainer.data.train
    views = model.fixed_real_views(data.x, data.cond)
    assert views.shape[0] == len(data.x)
    torch.testing.assert_close(views[:40], model.clean_view(data.x[:40], data.cond[:40]))

    conds = [data.cond[:32], data.cond[32:64]]
    torch.manual_seed(7)
    fakes = model.fake_views(conds, 32)
    torch.manual_seed(7)
    latents = [model.sample_latent(32) for _ in conds]
    with torch.no_grad():
        one_by_one = [model.critic_view(model.generate(z, c), c) for z, c in zip(latents, conds)]
    for fast, plain in zip(fakes, one_by_one):
        torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)

    x, c = data.x[:32], data.cond[:32]
    torch.manual_seed(3)
    plain, _ = model.critic_loss(x, c, fake_view=fakes[0])
    torch.manual_seed(3)
    fast, _ = model.critic_loss(x, c, real_view=views[:32], fake_view=fakes[0])
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
