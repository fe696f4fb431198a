"""WGAN-GP (plain and conditional): the Wasserstein losses, the summary critic on total and per-layer
sums, lazy gradient penalties and fake batches made in one pass."""

import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from tests.helpers import shower_config

SHOWER_G = "DENSE|16|RELU, DENSE|266|SOFTPLUS"
SHOWER_D = "DENSE|16|LEAKYRELU, DENSE|1|LINEAR"


def _shower_wgan(**options):
    config = ModelConfig(family="cwgan_gp", generator=SHOWER_G, critic=SHOWER_D, latent_dim=4, **options)
    return build_model(config, (266,), cond_dim=2, geometry="atlas266")


def test_the_summaries_are_the_total_and_each_layers_sum():
    model = _shower_wgan(summary_critic={"layout": "DENSE|8|LEAKYRELU, DENSE|1|LINEAR"})
    g = get_geometry("atlas266")
    x = torch.rand(5, 266)
    expected = torch.stack([x.sum(1)] + [x[:, s].sum(1) for s in g.layer_slices], dim=1)
    torch.testing.assert_close(model.summaries(x), expected)
    assert model.summaries(torch.ones(1, 266)).tolist() == [[266.0, 21.0, 168.0, 49.0, 28.0]]


def test_the_summary_critic_needs_the_cells_of_a_known_geometry():
    config = ModelConfig(family="wgan_gp", generator=SHOWER_G, critic=SHOWER_D, summary_critic={})
    with pytest.raises(ConfigError, match="summary_critic needs shower data on a known geometry"):
        build_model(config, (266,), cond_dim=0, geometry=None)
    with pytest.raises(ConfigError, match="needs model-space samples of 266 cells"):
        build_model(config.model_copy(update={"generator": "DENSE|16|RELU, DENSE|270|SOFTPLUS"}), (270,),
                    cond_dim=0, geometry="atlas266")


def test_without_penalty_the_losses_are_the_mean_critic_scores():
    """Critic: E[D(fake)] - E[D(real)] (logged as the Wasserstein estimate, its negative);
    generator: -E[D(G(z))]."""
    model = _shower_wgan().eval()
    torch.manual_seed(0)
    real, fake, cond = torch.rand(32, 266), torch.rand(32, 266), torch.randn(32, 2)
    critic = model.critics["critic"]
    loss, logs = model.critic_loss(real, cond, penalty=False, fake_view=fake)
    expected = critic(fake, cond).mean() - critic(real, cond).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert logs["wasserstein"] == pytest.approx(-expected.item(), rel=1e-6) and "gp" not in logs
    g_loss, _ = model.adversarial_generator_loss(fake, cond)
    assert g_loss.item() == pytest.approx(-critic(fake, cond).mean().item(), rel=1e-6)
    penalised, logs = model.critic_loss(real, cond, penalty=True, fake_view=fake)
    assert penalised.item() == pytest.approx(loss.item() + 10.0 * logs["gp"], rel=1e-5)  # gp_weight 10 by default


def test_summary_critic_gradient_penalty_does_not_flow_through_the_sums(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model={"summary_critic": {"gp_weight": 1.0}}))
    model = Trainer(config).model
    x = torch.rand(8, 266, requires_grad=True)
    from hepgan.models.losses import gradient_penalty

    s = model.summaries(x)
    gp = gradient_penalty(model.critics["summary"], s.detach(), s, torch.zeros(8, 2))
    gp.backward()
    assert x.grad is None  # the penalty treats the sums as independent inputs
    loss = -model.critics["summary"](model.summaries(x), torch.zeros(8, 2)).mean()
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the generator still learns through them

def test_lazy_gradient_penalty_applies_every_kth_update_k_times_as_strong(tmp_path, shower_file):
    """model.gp_every: the penalised update's loss is the Wasserstein loss plus k x weight x penalty,
    the others carry no penalty; the trainer penalises the last of every k critic updates, counted
    from the step (so a resumed run keeps the rhythm)."""
    model = {"gp_weight": 10.0, "gp_every": 3,
             "summary_critic": {"layout": "DENSE|8|LEAKYRELU, DENSE|1|LINEAR", "gp_weight": 5.0}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 4, "batch_size": 32, "n_critic": 2}))
    trainer = Trainer(config)
    wgan = trainer.model
    real, cond = trainer.data.train.x[:32], trainer.data.train.cond[:32]
    torch.manual_seed(0)
    free, logs_free = wgan.critic_loss(real, cond, penalty=False)
    torch.manual_seed(0)
    lazy, logs_lazy = wgan.critic_loss(real, cond, penalty=True)
    assert "gp" not in logs_free and logs_lazy["gp"] > 0
    assert free.item() == pytest.approx(-logs_free["wasserstein"] - logs_free["wasserstein_summary"], rel=1e-5)
    assert "gp_summary" not in logs_free and logs_lazy["gp_summary"] > 0
    penalties = 3 * 10.0 * logs_lazy["gp"] + 3 * 5.0 * logs_lazy["gp_summary"]  # both lazy: x3
    assert lazy.item() == pytest.approx(free.item() + penalties, rel=1e-5)
    calls = []
    original = wgan.critic_loss
    wgan.critic_loss = lambda real, cond, penalty=True, **views: calls.append(penalty) or original(real, cond, penalty,
                                                                                               **views)
    trainer.fit()
    assert calls == [False, False, True, False, False, True, False, False]  # updates 3 and 6 of 8


def test_a_generator_with_batch_statistics_makes_each_fake_batch_on_its_own(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model={
        "generator": "DENSE|32|RELU, BNORM, DENSE|266|SOFTPLUS"}))
    trainer = Trainer(config)
    model = trainer.model.train()
    conds = [trainer.data.train.cond[:16], trainer.data.train.cond[16:32]]
    torch.manual_seed(5)
    fakes = model.fake_views(conds, 16)
    torch.manual_seed(5)
    latents = [model.sample_latent(16) for _ in conds]
    with torch.no_grad():  # batch norm: each batch normalised by its own statistics, as one pass per update
        for fake, z, c in zip(fakes, latents, conds):
            torch.testing.assert_close(fake, model.critic_view(model.generate(z, c), c))
    plain = Trainer(load_train_config(shower_config(tmp_path / "plain", shower_file)))
    assert plain.model.fixed_real_views(plain.data.train.x, conds[0]) is None  # its critics see the cells
