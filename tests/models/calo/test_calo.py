"""The flagship family: its feature map, the condition-dependent standardisation and the head that
inverts them, and end-to-end training, checkpointing and generation in physical units."""

import math

import numpy as np
import pytest
import torch

from hepgan.data.hdf5 import read_showers
from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models import build_model
from hepgan.models.calo import (
    CellFluctuations,
    ConditionalStandardiser,
    LinearShares,
    ShapeSummaries,
    ShowerFeatures,
    StripEratio,
    feature_dim,
    summary_moments,
)
from hepgan.metrics.physics.observables import eratio
from hepgan.models.config import ModelConfig
from hepgan.sim import simulate
from hepgan.train import Trainer, load_train_config
from hepgan.train.generator import TrainedGenerator
from tests.helpers import shower_config

CALO_MODEL = {
    "family": "calo_wgan",
    "generator": "CONCAT, DENSE|32|SWISH, DENSE|271|LINEAR",
    "critic": "CONCAT, DENSE|32|LEAKYRELU, DENSE|1|LINEAR",
    "summary_critic": {"layout": "CONCAT, DENSE|16|LEAKYRELU, DENSE|1|LINEAR", "gp_weight": 1.0},
    "latent_dim": 8,
}


def _encoded_energy(energies):
    log_e = np.log(energies)
    return ((log_e - log_e.mean()) / log_e.std())[:, None]


def test_standardiser_recovers_condition_dependent_mean_and_width():
    rng = np.random.default_rng(0)
    c = rng.uniform(-2, 2, (40_000, 1))
    onehot = np.eye(2)[rng.integers(0, 2, 40_000)]
    cond = np.concatenate([c, onehot], axis=1)
    mean = 1.0 + 0.5 * c[:, 0] - 0.2 * c[:, 0] ** 2 + 0.7 * onehot[:, 1]
    std = np.exp(-1.0 + 0.6 * c[:, 0])  # the width changes by a factor 11 over the range
    y = (mean + std * rng.standard_normal(40_000))[:, None]
    s = ConditionalStandardiser(cond_dim=3, n_features=1, degree=3)
    s.fit(y, cond, n_exact=1)
    m, w = (t.numpy()[:, 0] for t in s(torch.from_numpy(cond.astype(np.float32)), len(y)))
    assert s.continuous.tolist() == [1.0, 0.0, 0.0]  # the one-hot columns enter linearly
    assert np.abs(m - mean).max() < 0.05 * std.max()
    assert np.abs(w / std - 1).max() < 0.1
    z = (y[:, 0] - m) / w
    for lo in (-2, 0, 1.5):
        sel = (c[:, 0] > lo) & (c[:, 0] < lo + 0.5)
        assert abs(z[sel].std() - 1) < 0.05


def test_knots_let_the_standardiser_follow_a_step_in_the_impact_position():
    """Which strip holds the core jumps with the impact position: a spline in that condition follows
    the steps where the cubic cannot; the energy (few values) stays polynomial; beyond the data's
    range the spline is flat."""
    rng = np.random.default_rng(1)
    n = 30_000
    energy = rng.integers(0, 5, n) / 2.0
    offset = rng.uniform(-0.5, 0.5, n)
    cond = np.stack([energy, offset], axis=1)
    y = (np.floor(offset * 4) + 0.3 * energy + 0.05 * rng.standard_normal(n))[:, None]
    residual = {}
    for knots in (0, 41):
        s = ConditionalStandardiser(cond_dim=2, n_features=1, degree=3, knots=knots)
        s.fit(y, cond)
        mean, _ = s(torch.from_numpy(cond.astype(np.float32)), n)
        residual[knots] = np.std(y[:, 0] - mean.numpy()[:, 0])
    assert s.splined.tolist() == [0.0, 1.0]
    assert residual[41] < 0.5 * residual[0]
    edge = torch.tensor([[0.5], [0.9]])  # the offset at and beyond the last knot
    torch.testing.assert_close(s._hats(edge)[0], s._hats(edge)[1])
    # only the splined condition's hats are computed; the coefficients keep a row for every hat
    c = torch.from_numpy(cond[:5].astype(np.float32))
    assert s.basis(c, 5).shape == (5, 1 + 2 * 3 + 41) and s.mean_coef.shape[0] == 1 + 2 * 3 + 2 * 41
    assert (s.mean_coef[1 + 2 * 3 : 1 + 2 * 3 + 41] == 0).all()  # the energy's hats
    centres = s.knot_lo[1] + s.knot_step[1] * torch.arange(41)
    full_hats = (1 - ((c[:, 1:, None] - centres) / s.knot_step[1]).abs()).clamp_min(0).flatten(1)
    full = torch.cat([torch.ones(5, 1), c, c.pow(2) * s.continuous, c.pow(3) * s.continuous, torch.zeros(5, 41),
                      full_hats], dim=1)
    torch.testing.assert_close(s(c, 5)[0], full @ s.mean_coef, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="knots must be 0"):
        ModelConfig(**{**CALO_MODEL, "calo": {"knots": 1}})


def test_standardisers_saved_before_the_spline_basis_still_load():
    s = ConditionalStandardiser(cond_dim=2, n_features=3, degree=2)
    old = {k: v for k, v in s.state_dict().items() if k not in ("knot_lo", "knot_step", "splined")}
    fresh = ConditionalStandardiser(cond_dim=2, n_features=3, degree=2)
    fresh.load_state_dict(old)
    assert fresh.basis(torch.ones(4, 2), 4).shape == (4, 5)


@pytest.fixture(scope="module")
def showers(shower_file):
    data = read_showers(shower_file)
    return data.showers / data.incident_energies, data.incident_energies[:, 0]


def test_features_and_head_are_inverse_on_real_showers(showers):
    x, energies = showers
    assert (x == 0).mean() > 0.5  # the simulated showers have many empty cells
    features = ShowerFeatures("atlas266", cond_dim=1, degree=2, eps_layer=1e-5, eps_cell=1e-5)
    cond = torch.from_numpy(_encoded_energy(energies).astype(np.float32))
    features.fit(x, cond.numpy())
    xt = torch.from_numpy(x.astype(np.float32))
    z = features(xt, cond)
    assert z.shape == (len(x), feature_dim("atlas266")) == (len(x), 1 + 4 + 266)
    back = features.cells(z, cond).numpy()
    assert ((back == 0) == (x == 0)).all()  # empty cells come back exactly empty
    np.testing.assert_allclose(back.sum(1), x.sum(1), rtol=1e-5)  # the response exactly
    layers = features.layer_matrix.numpy()
    np.testing.assert_allclose(back @ layers, x @ layers, rtol=0.02, atol=2e-5)  # (f + eps) / (1 + k eps)
    # a cell's share comes back as (g + eps) / (1 + k eps): close for all but the faintest cells
    big = x > 1e-3 * x.sum(1, keepdims=True)
    np.testing.assert_allclose(back[big], x[big], rtol=0.02)
    for e in np.unique(energies):  # the response is standardised at every energy
        sel = energies == e
        assert abs(z[sel, 0].mean()) < 0.2 and 0.8 < z[sel, 0].std() < 1.25


def test_adaptive_eps_follows_the_smallest_deposit_and_keeps_the_occupancy(showers):
    """With eps a fixed 1e-3, the many hit cells of a high-energy shower with shares below 3e-3 come
    back empty; the adaptive floor, ~ one energy spot's share / 16, keeps them."""
    x, energies = showers
    cond = torch.from_numpy(_encoded_energy(energies).astype(np.float32))
    xt = torch.from_numpy(x.astype(np.float32))
    fixed = ShowerFeatures("atlas266", cond_dim=1, degree=2, eps_layer=1e-5, eps_cell=1e-3)
    adaptive = ShowerFeatures("atlas266", cond_dim=1, degree=2, eps_layer=1e-5, eps_cell="adaptive")
    for f in (fixed, adaptive):
        f.fit(x, cond.numpy())
    eps = adaptive.eps_cells(cond, len(x)).numpy()
    middle = slice(*adaptive.slices[2])
    low, high = energies == energies.min(), energies == energies.max()
    assert eps[high, middle].mean() < 0.1 * eps[low, middle].mean()  # the floor falls with the energy
    hit = x > 0
    lost = {}
    for name, f in (("fixed", fixed), ("adaptive", adaptive)):
        back = f.cells(f(xt, cond), cond).numpy()
        assert not (back[~hit] > 0).any()  # empty cells stay empty
        lost[name] = (hit & (back == 0))[high].sum() / hit[high].sum()
    assert lost["adaptive"] < 0.01 < lost["fixed"]


def test_eps_cell_must_be_adaptive_or_in_range():
    with pytest.raises(ConfigError, match="'adaptive' or a number"):
        ShowerFeatures("atlas266", cond_dim=1, degree=0, eps_layer=1e-5, eps_cell=0.5)


def test_shape_summaries_measure_fractions_centroids_widths_and_the_hottest_cell():
    shapes = ShapeSummaries("atlas266", cond_dim=1, degree=0)
    g = get_geometry("atlas266")
    middle = g.layer_slices[2]  # 7 x 7, eta index slowest
    x = torch.zeros(1, g.n_cells)
    x[0, middle.start + 3 * 7 + 3] = 0.3  # the central cell
    x[0, middle.start + 4 * 7 + 3] = 0.3  # one cell further in eta
    x[0, g.layer_slices[3].start] = 0.4  # one back cell
    threshold = torch.full((1, g.n_cells), 1e-3)
    raw = shapes.raw(x, threshold)[0].reshape(7, 4).numpy()  # (quantity, layer)
    fraction, centroid_a, centroid_b, width_a, width_b, hottest, occupancy = raw
    np.testing.assert_allclose(fraction, [0, 0, 0.6, 0.4], atol=1e-6)
    np.testing.assert_allclose([centroid_a[2], centroid_b[2]], [0.5, 0.0], atol=1e-5)  # in cell pitches
    np.testing.assert_allclose([width_a[2], width_b[2]], [np.sqrt(0.25 + 1e-4), 1e-2], rtol=1e-4)
    np.testing.assert_allclose(hottest, [0, 0, 0.5, 1.0], atol=1e-6)
    assert width_a[3] == pytest.approx(1e-2)  # one cell: no width, and a finite gradient
    np.testing.assert_allclose(occupancy, [0, 0, 2 / 49, 1 / 28], atol=1e-4)  # hit cells / cells
    x[0, middle.start] = 1e-3 * 0.6  # a share at the threshold counts half
    assert shapes.raw(x, threshold)[0, 6 * 4 + 2].item() == pytest.approx(2.5 / 49, abs=1e-3)


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


def test_linear_shares_are_each_cells_share_of_its_layer():
    shares = LinearShares("atlas266", cond_dim=1, degree=0)
    g = get_geometry("atlas266")
    middle, back = g.layer_slices[2], g.layer_slices[3]
    x = torch.zeros(2, g.n_cells)
    x[:, middle.start] = 0.3
    x[:, middle.start + 1] = 0.1
    x[0, back.start] = 0.2
    raw = shares.raw(x)
    np.testing.assert_allclose(raw[0, middle.start : middle.start + 2], [0.75, 0.25])
    assert raw[0, back.start] == pytest.approx(1.0)
    assert torch.equal(raw[1, back], torch.zeros(back.stop - back.start))  # an empty layer: no NaN
    assert float(raw.sum()) == pytest.approx(3.0)  # every non-empty layer adds up to 1


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


def test_head_is_smooth_in_its_inputs():
    """A tiny change of the network's output never moves a layer's energy into one cell."""
    features = ShowerFeatures("atlas266", cond_dim=1, degree=0, eps_layer=1e-4, eps_cell=1e-5, empty_below=3.0)
    v = torch.randn(256, features.dim) * 3 - 8  # mostly near-empty cells
    a = features.cells(v, torch.zeros(256, 1))
    b = features.cells(v + 1e-4 * torch.randn_like(v), torch.zeros(256, 1))
    assert (a - b).abs().max() < 1e-2 * a.abs().max()


def test_head_makes_non_negative_showers_that_add_up():
    features = ShowerFeatures("atlas266", cond_dim=1, degree=1, eps_layer=1e-4, eps_cell=1e-5)
    v = torch.randn(64, features.dim) * 3
    cells = features.cells(v, torch.zeros(64, 1))
    assert (cells >= 0).all()
    mean, std = features.standardiser(torch.zeros(64, 1), 64)
    expected = (mean[:, 0] + std[:, 0] * v[:, 0]).clamp(max=np.log(3.0)).exp()  # responses above 3 are clamped
    np.testing.assert_allclose(cells.sum(1).numpy(), expected.numpy(), rtol=1e-5)
    assert torch.isfinite(features.cells(v * 1e3, torch.zeros(64, 1))).all()


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


def test_generated_cells_below_the_empty_threshold_are_exactly_empty():
    features = ShowerFeatures("atlas266", cond_dim=1, degree=0, eps_layer=1e-4, eps_cell=1e-5, empty_below=3.0)
    v = torch.full((2, features.dim), -30.0)
    # standardiser unfitted: mean 0, width 1, so a cell feature t is ln(share) up to normalisation;
    # presampler shares: 2 eps (empty), 4 eps (kept), the rest in one cell
    v[:, features.n_summary] = float(np.log(2e-5))
    v[:, features.n_summary + 1] = float(np.log(4e-5))
    v[:, features.n_summary + 2] = 0.0
    cells = features.cells(v, torch.zeros(2, 1))
    assert (cells[:, 0] == 0).all() and (cells[:, 1] > 0).all() and (cells[:, 3:21] == 0).all()
    # a layer sampled in whole deposits (calo.deposit_smooth) keeps all its cells, however small
    smooth = ShowerFeatures("atlas266", cond_dim=1, degree=0, eps_layer=1e-4, eps_cell=1e-5, empty_below=3.0,
                            unthresholded=["presampler"])
    cells = smooth.cells(v, torch.zeros(2, 1))
    assert (cells[:, :21] > 0).all()


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


def test_a_floor_above_one_over_the_cell_count_never_empties_a_layer():
    """An adaptive floor can be large where the data have few, big deposits (presampler: ~0.05 x 8
    > 1/21); the head keeps each layer's largest share, so no layer is divided by 0."""
    features = ShowerFeatures("atlas266", cond_dim=1, degree=0, eps_layer=1e-4, eps_cell=0.1, empty_below=8.0)
    v = torch.zeros(3, features.dim)  # unfitted: every share of a layer equal, far below 0.8
    v[1, features.n_summary + 4] = 0.5  # one presampler cell a little above the others
    cells = features.cells(v, torch.zeros(3, 1))
    assert torch.isfinite(cells).all()
    presampler = cells[:, :21]
    assert (presampler[1] > 0).sum() == 1 and presampler[1, 4] > 0
    np.testing.assert_allclose(cells.sum(1).numpy(), 1.0, rtol=1e-5)


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


def test_strip_eratio_is_the_evaluations_eratio_and_moves_the_two_peaks(showers):
    from hepgan.metrics.physics.observables import eratio

    g = get_geometry("atlas266")
    x = torch.from_numpy(np.asarray(showers[0][:500], np.float32)).requires_grad_(True)
    mine = StripEratio("atlas266", cond_dim=1, degree=0).raw(x)[:, 0]
    strips = g.layer_slices[1]
    truth = eratio(x.detach().numpy()[:, strips].reshape(-1, 56, 3).sum(axis=2))
    finite = np.isfinite(truth)
    np.testing.assert_allclose(mine.detach().numpy()[finite], truth[finite], atol=1e-5)
    mine.sum().backward()
    moved = (x.grad != 0).sum(dim=1)
    two_peaks = mine.detach() < 1
    assert (moved[two_peaks] == 2 * 3).all() and (moved[~two_peaks] == 0).all()  # 2 strips x 3 phi cells


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


def test_features_saved_before_the_adaptive_floor_still_load():
    """Checkpoints written before log_eps_coef existed load with their fixed eps."""
    features = ShowerFeatures("atlas266", cond_dim=1, degree=1, eps_layer=1e-5, eps_cell=1e-3)
    old = {k: v for k, v in features.state_dict().items() if k != "log_eps_coef"}
    fresh = ShowerFeatures("atlas266", cond_dim=1, degree=1, eps_layer=1e-5, eps_cell=1e-3)
    fresh.load_state_dict(old)
    np.testing.assert_allclose(fresh.eps_cells(torch.zeros(2, 1), 2).numpy(), 1e-3, rtol=1e-6)


def _redraw_last_latents_keeps_layer_energies(gen, latent_dim, cond, n_redrawn):
    """Generate twice with only the last ``n_redrawn`` latent values redrawn: the layer energies
    must not change, the arrangement of the cells must. Returns the first showers."""
    torch.manual_seed(0)
    z = torch.randn(len(cond), latent_dim)
    other = z.clone()
    other[:, -n_redrawn:] = torch.randn(len(cond), n_redrawn)
    with torch.no_grad():
        a, b = gen(z, cond), gen(other, cond)
    layers = gen.features.layer_matrix
    torch.testing.assert_close(a @ layers, b @ layers, rtol=1e-4, atol=1e-7)  # same layer energies
    assert not torch.allclose(a, b)  # but another arrangement of the cells
    return a


def test_cell_noise_moves_cells_within_their_layer_and_learns_its_scale(tmp_path, shower_file):
    """calo.cell_noise: the latent ends with one value per cell, added to that cell's feature with a
    learned scale; the response and the layer split (the summaries) do not depend on it."""
    model = {**CALO_MODEL, "calo": {"cell_noise": 0.2, "gaussian_path": "summaries"}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 3, "batch_size": 32}))
    trainer = Trainer(config)
    gen, n_cells = trainer.model.generator, 266
    assert trainer.model.latent_dim == 8 + (1 + 4) + n_cells
    assert torch.equal(gen.noise_scale.detach(), torch.full((n_cells,), 0.2))
    cond = trainer.data.train.cond[:64]
    _redraw_last_latents_keeps_layer_energies(gen, trainer.model.latent_dim, cond, n_cells)
    loss, _ = trainer.model.generator_loss(cond, 64)
    (grad,) = torch.autograd.grad(loss, gen.noise_scale)
    assert grad.abs().sum() > 0
    plain = build_model(ModelConfig(**{**CALO_MODEL, "calo": {"gaussian_path": "summaries"}}), (n_cells,), 1,
                        geometry="atlas266")
    assert plain.latent_dim == 8 + 5 and plain.generator.noise_scale is None
    trainer.fit()
    reloaded = TrainedGenerator.from_run(tmp_path / "run")  # the checkpoint carries the learned scales
    assert reloaded.latent_dim == trainer.model.latent_dim
    assert reloaded.generate({"energy": np.full(4, 10_000.0), "impact_eta": np.zeros(4)}).shape == (4, n_cells)


def _strip_eratio(x):
    g = get_geometry("atlas266")
    strips = [i for i, layer in enumerate(g.layers) if layer.name == "strips"][0]
    return eratio(x[:, g.layer_slices[strips]].reshape(-1, *g.layers[strips].shape).sum(axis=2))


def test_fluctuations_fit_the_quantum_and_scale_the_variance_with_the_cell_energy():
    """On cells made of Poisson counts of a known, energy-dependent quantum, the fitted quantum is
    the smallest deposit; a cell's variance is (its energy) x quantum x scale, empty cells stay
    empty, nothing is negative, and every layer keeps its energy."""
    rng = np.random.default_rng(0)
    n = 4000
    c = rng.uniform(-1, 1, (n, 1))
    quantum = 1e-3 * np.exp(-c)  # a quantum that changes with the condition, as with the energy
    x = (rng.poisson(rng.uniform(0, 4, (n, 266))) * quantum).astype(np.float32)
    fluct = CellFluctuations("atlas266", cond_dim=1, degree=2, scale=2.0)
    fluct.fit(x, c)
    cond = torch.tensor([[-0.5], [0.5]], dtype=torch.float32)
    with torch.no_grad():
        q = fluct.quantum(cond, 2)
    np.testing.assert_allclose(q.numpy() / 2.0, 1e-3 * np.exp([[0.5], [-0.5]]) * np.ones((1, 266)), rtol=0.05)

    shower = torch.zeros(20_000, 266)
    shower[:, :21] = 0.01  # presampler
    shower[:, 21:189] = torch.linspace(0.0, 0.05, 168)  # the strips: one empty cell, the others rising
    shower[:, 189:] = 0.02  # middle and back
    cond = torch.zeros(len(shower), 1)
    with torch.no_grad():
        y = fluct(shower, torch.randn(len(shower), 266), cond)
        q = fluct.quantum(cond[:1], 1)[0]
    assert (y >= 0).all() and (y[:, 21] == 0).all()
    layers = fluct.layer_matrix
    torch.testing.assert_close(y @ layers, shower @ layers, rtol=1e-5, atol=1e-7)
    # the strips' variance, before the renormalisation (which removes 1/168 of it and adds a
    # little from the layer total): cells far enough above 0 that the cut at 0 never acts
    var = y[:, 130:189].var(dim=0)
    ratio = var / (shower[0, 130:189] * q[130:189])
    assert ratio.sub(1).abs().max() < 0.1


def test_fluctuation_power_learns_how_the_width_grows_with_the_cell_energy():
    """calo.fluctuation_power: the width is sqrt(cell x quantum) x (cell / quantum)^b with b learned
    per layer (0 at first, the plain fluctuations); b < 0 makes small cells fluctuate relatively
    more than big ones. Without it the module has no such parameter, so older configs keep their
    parameters and optimiser states."""
    assert not any("width_exponent" in name for name, _ in
                   CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0).named_parameters())
    fluct = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strips"], power=True)
    fluct.basis_of.mean_coef.fill_(math.log(1e-4))  # quantum 1e-4
    x = torch.zeros(20_000, 266)
    x[:, 21:189] = torch.linspace(0.01, 0.05, 168)  # 100-500 quanta: the cut at 0 never acts
    cond, noise = torch.zeros(len(x), 1), torch.randn(len(x), fluct.dim)
    with torch.no_grad():
        plain = fluct(x, noise, cond)
        fluct.width_exponent[1] = -0.25
        steeper = fluct(x, noise, cond)
    cells = x[0, 21:189]
    for y, expected in ((plain, cells * 1e-4), (steeper, cells * 1e-4 * (cells / 1e-4) ** -0.5)):
        ratio = y[:, 21:189].var(dim=0) / expected
        assert ratio.sub(1).abs().max() < 0.1
    # the smallest strips (5x less energy than the largest) now fluctuate relatively more than the
    # largest, by a further 5^0.25 = 1.5 in relative width
    def spread(y):
        rel = y[:, 21:189].std(dim=0) / cells
        return (rel[0] / rel[-1]).item()
    assert 1.35 < spread(steeper) / spread(plain) < 1.65
    y = fluct(x[:64], noise[:64], cond[:64])
    (grad,) = torch.autograd.grad((y[:, 21:189] ** 2).sum(), fluct.width_exponent)
    assert grad[1].abs() > 0 and grad[[0, 2, 3]].abs().sum() == 0


def test_gamma_fluctuations_keep_mean_and_width_and_skew_up_as_a_count():
    """calo.fluctuation_shape='gamma': a cell of k quanta fluctuates as a Gamma of shape k (its
    quantiles within a few % of scipy's), so with the same mean and width as the Gaussian it is
    skewed up and never cut at 0; an unknown shape is a clear error."""
    from scipy import stats

    quantum, k = 1e-3, 4.0
    cells = {}
    for shape in ("gaussian", "gamma"):
        fluct = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strips"], shape=shape)
        fluct.basis_of.mean_coef.fill_(math.log(quantum))
        x = torch.zeros(20_000, 266)
        x[:, 21:189] = k * quantum
        with torch.no_grad():
            y = fluct(x, torch.randn(len(x), fluct.dim, generator=torch.Generator().manual_seed(0)),
                      torch.zeros(len(x), 1))
        cells[shape] = y[:, 21:189].flatten().double().numpy() / quantum
    gamma, gaussian = cells["gamma"], cells["gaussian"]
    qs = [0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    np.testing.assert_allclose(np.quantile(gamma, qs), stats.gamma(k).ppf(qs), rtol=0.04)
    for values in (gamma, gaussian):
        assert abs(values.mean() - k) < 0.01 * k and abs(values.std() - k**0.5) < 0.05 * k**0.5
    # Gamma(4): skewness 2 / sqrt(4) = 1; the Gaussian only gets a little from its cut at 0 (2 sigma down)
    assert stats.skew(gamma) > 0.8 and abs(stats.skew(gaussian)) < 0.3
    with pytest.raises(ConfigError, match="fluctuation_shape must be 'gaussian' or 'gamma', not 'poisson'"):
        CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, shape="poisson")


@pytest.mark.parametrize("shape", ["gaussian", "gamma"])
def test_fluctuation_layers_leave_the_other_layers_alone(shape):
    fluct = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strips", "middle"], shape=shape)
    assert fluct.dim == 168 + 49  # one latent value per fluctuating cell
    fluct.basis_of.mean_coef.fill_(math.log(1e-3))
    x = torch.full((50, 266), 0.01)
    with torch.no_grad():
        y = fluct(x, torch.randn(50, fluct.dim), torch.zeros(50, 1))
    assert torch.equal(y[:, :21], x[:, :21]) and torch.equal(y[:, 238:], x[:, 238:])
    assert not torch.allclose(y[:, 21:189], x[:, 21:189]) and not torch.allclose(y[:, 189:238], x[:, 189:238])
    with pytest.raises(ConfigError, match="no layer 'strip'.*presampler, strips, middle, back"):
        CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strip"])


def test_the_cell_floor_empties_slivers_and_keeps_the_layer_energies():
    """calo.cell_floor: fluctuating cells below floor x the smallest deposit are emptied, the rest
    scaled so each layer keeps its energy; a layer's largest cell stays unless the whole layer
    holds less than the floor, and then the layer is emptied; the other layers are left alone."""
    fluct = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["presampler", "strips", "middle"],
                             floor=0.5)
    fluct.basis_of.mean_coef.fill_(math.log(1e-3))  # smallest deposit 1e-3: the floor is 5e-4
    x = torch.zeros(3, 266)
    x[:, 21:189] = 0.002  # strips, all above the floor
    x[0, :3] = torch.tensor([0.01, 4e-4, 3e-4])  # presampler: two slivers
    x[0, 189:191] = torch.tensor([3e-4, 2e-4])  # middle: only slivers, but 5e-4 in all
    x[1, 189:191] = torch.tensor([2e-4, 1e-4])  # middle: less than the floor in all
    x[:2, 238] = 2e-4  # back: a sliver, but the back layer does not fluctuate
    x[2] = 0.003  # nothing to empty
    with torch.no_grad():
        y = fluct(x, torch.zeros(3, fluct.dim), torch.zeros(3, 1))
    torch.testing.assert_close(y[0, :3], torch.tensor([0.0107, 0.0, 0.0]))
    torch.testing.assert_close(y[0, 189:191], torch.tensor([5e-4, 0.0]))
    assert (y[1, 189:238] == 0).all()
    torch.testing.assert_close(y[:, 21:189], x[:, 21:189])
    torch.testing.assert_close(y[:, 238:], x[:, 238:])
    torch.testing.assert_close(y[2], x[2])
    fluct.floor = 0.0
    with torch.no_grad():
        torch.testing.assert_close(fluct(x, torch.zeros(3, fluct.dim), torch.zeros(3, 1)), x)
    with pytest.raises(ConfigError, match="cell_floor.*cell_fluctuations > 0"):
        build_model(ModelConfig(**{**CALO_MODEL, "calo": {"cell_floor": 0.5}}), (266,), 1, geometry="atlas266")


def test_deposit_layers_make_slivers_whole_deposits_and_keep_the_mean_profile():
    """calo.deposit_layers: a cell below one deposit holds one deposit with probability (its
    energy / deposit), else nothing, so no sliver is left and each cell's mean energy stays; cells
    holding more stay as they are, and so do the other layers. An emptied cell passes no
    gradient, a whole one its factor's (deposit / sliver)."""
    fluct = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strips"],
                             deposit_layers=["back"], deposit_size=2.0)
    fluct.basis_of.mean_coef.fill_(math.log(5e-4))  # smallest deposit 5e-4: the deposit is 1e-3
    assert fluct.dim == 168 + 28
    n = 20_000
    x = torch.zeros(n, 266)
    x[:, 21:189] = 0.002  # strips (fluctuating, noise 0 below)
    x[:, 189] = 2e-4  # middle: a sliver, but not a deposit layer
    x[:, 238:241] = torch.tensor([2e-4, 7e-4, 0.004])  # back: two cells below the deposit, one above
    x.requires_grad_(True)
    noise = torch.cat([torch.zeros(n, 168), torch.randn(n, 28, generator=torch.Generator().manual_seed(0))], dim=1)
    y = fluct(x, noise, torch.zeros(n, 1))
    back = y[:, 238:241].detach()
    hits = back[:, :2][back[:, :2] > 0]
    torch.testing.assert_close(hits, torch.full_like(hits, 1e-3))  # whole deposits or empty
    torch.testing.assert_close(back[:, :2].mean(dim=0), torch.tensor([2e-4, 7e-4]), atol=1.5e-5, rtol=0)
    assert (back[:, 2] == 0.004).all()
    assert not (back[:, 0] > 0).eq(back[:, 1] > 0).all()  # independent cells
    torch.testing.assert_close(y[:, :238].detach(), x[:, :238].detach())
    y[:, 238:241].sum().backward()
    whole = back[:, :2] > 0
    torch.testing.assert_close(x.grad[:, 238:240][whole], (1e-3 / x[:, 238:240].detach())[whole])
    assert (x.grad[:, 238:240][~whole] == 0).all() and (x.grad[:, 240] == 1).all()
    spread = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strips"],
                              deposit_layers=["back"], deposit_size=2.0, deposit_spread=0.5)
    spread.basis_of.mean_coef.fill_(math.log(5e-4))
    y = spread(x.detach(), noise, torch.zeros(n, 1))
    hits = y[:, 238:240][y[:, 238:240] > 0].detach()
    lowest, highest = (1e-3 * math.exp(t) * 0.5 / math.sinh(0.5) for t in (-0.5, 0.5))  # mean 1e-3
    assert hits.min() >= 0.999 * lowest and hits.max() <= 1.001 * highest
    assert hits.std() > 0.2 * hits.mean()
    torch.testing.assert_close(y[:, 238:240].detach().mean(dim=0), torch.tensor([2e-4, 7e-4]), atol=1.5e-5, rtol=0)
    y[:, 238:240].sum().backward()
    assert spread.deposit_spread.grad[3] != 0 and (spread.deposit_spread.grad[:3] == 0).all()
    with pytest.raises(ConfigError, match="deposit_layers.*no layer 'rear'"):
        CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, deposit_layers=["rear"])
    with pytest.raises(ConfigError, match="deposit_layers.*cell_fluctuations > 0"):
        build_model(ModelConfig(**{**CALO_MODEL, "calo": {"deposit_layers": ["back"]}}), (266,), 1, geometry="atlas266")


def test_deposits_spread_above_one_deposit_are_never_slivers_and_keep_the_mean_profile():
    """calo.deposit_shape='above': a whole deposit's energy is log-uniform from one deposit up to
    exp(spread) deposits, so however the learned spread grows no hit cell holds less than one
    deposit; a cell below the mean deposit ((exp(s) - 1) / s deposits) is promoted with probability
    (its energy / mean), so each cell's mean energy stays, and the spread gets a gradient."""
    s = 1.5
    fluct = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strips"],
                             deposit_layers=["back"], deposit_size=2.0, deposit_spread=s, deposit_shape="above")
    fluct.basis_of.mean_coef.fill_(math.log(5e-4))  # smallest deposit 5e-4: the deposit is 1e-3
    n = 40_000
    mean = 1e-3 * math.expm1(s) / s  # 2.56e-3
    x = torch.zeros(n, 266)
    x[:, 238:241] = torch.tensor([2e-4, 1.5e-3, 0.004])  # back: below one deposit, between it and the mean, above
    noise = torch.cat([torch.zeros(n, 168), torch.randn(n, 28, generator=torch.Generator().manual_seed(1))], dim=1)
    y = fluct(x, noise, torch.zeros(n, 1))
    hits = y[:, 238:240][y[:, 238:240] > 0].detach()
    assert hits.min() >= 0.999e-3 and hits.max() <= 1.001e-3 * math.exp(s)
    quartiles = torch.quantile(hits.log(), torch.tensor([0.25, 0.5, 0.75])) - math.log(1e-3)
    torch.testing.assert_close(quartiles, torch.tensor([0.25, 0.5, 0.75]) * s, atol=0.05, rtol=0)  # log-uniform
    torch.testing.assert_close(y[:, 238:240].detach().mean(dim=0), torch.tensor([2e-4, 1.5e-3]), atol=4e-5, rtol=0)
    torch.testing.assert_close((y[:, 238:240] > 0).float().mean(dim=0), torch.tensor([2e-4, 1.5e-3]) / mean,
                               atol=0.01, rtol=0)
    assert (y[:, 240] == 0.004).all()
    y[:, 238:240].sum().backward()
    assert fluct.deposit_spread.grad[3] != 0 and (fluct.deposit_spread.grad[:3] == 0).all()
    around = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, layers=["strips"],
                              deposit_layers=["back"], deposit_size=2.0, deposit_spread=s)
    around.basis_of.mean_coef.fill_(math.log(5e-4))
    with torch.no_grad():
        around_hits = around(x, noise, torch.zeros(n, 1))[:, 238:240]
    assert around_hits[around_hits > 0].min() < 0.5e-3  # around its mean, the same spread makes slivers
    with pytest.raises(ConfigError, match="deposit_shape.*'around' or 'above'.*'below'"):
        CellFluctuations("atlas266", cond_dim=1, degree=0, scale=1.0, deposit_layers=["back"], deposit_shape="below")


def test_fluctuations_make_the_strip_eratio_of_smooth_showers_real():
    """The reason for the layer: smooth showers (the simulator without energy spots or sampling
    fluctuations) have E_ratio 1; fluctuated by the quantum fitted on real showers, at the scale the
    docs quote (4.5), their E_ratio quantiles come close to the real showers'."""
    real = simulate(energies_gev=[4.0], events_per_energy=3000, seed=5)
    smooth = simulate(energies_gev=[4.0], events_per_energy=3000, seed=5, sampling_term=0.0, constant_term=0.0,
                      spots={"enabled": False})
    x_real = (real.showers / real.incident_energies).astype(np.float32)
    x_smooth = (smooth.showers / smooth.incident_energies).astype(np.float32)
    cond = np.zeros((len(x_real), 1), np.float32)
    fluct = CellFluctuations("atlas266", cond_dim=1, degree=0, scale=4.5)
    fluct.fit(x_real, cond)
    torch.manual_seed(0)
    with torch.no_grad():
        x_fluct = fluct(torch.from_numpy(x_smooth), torch.randn(x_smooth.shape), torch.from_numpy(cond)).numpy()
    quartiles = lambda x: np.nanpercentile(_strip_eratio(x), [25, 50, 75])  # noqa: E731
    assert np.nanmedian(_strip_eratio(x_smooth)) == 1.0
    np.testing.assert_allclose(quartiles(x_fluct), quartiles(x_real), atol=0.03)


def test_fluctuations_join_the_generator_latent_and_learn_their_scale(tmp_path, shower_file):
    """calo.cell_fluctuations: the latent ends with one value per cell; the layer energies do not
    depend on it, the arrangement of the cells does; the learned scale gets a gradient and is saved."""
    model = {**CALO_MODEL, "calo": {"cell_fluctuations": 4.0, "cell_noise": 0.1, "gaussian_path": "summaries"}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 3, "batch_size": 32}))
    trainer = Trainer(config)
    gen, n_cells = trainer.model.generator, 266
    assert trainer.model.latent_dim == 8 + (1 + 4) + 2 * n_cells  # body, Gaussian path, cell noise, fluctuations
    cond = trainer.data.train.cond[:64]
    a = _redraw_last_latents_keeps_layer_energies(gen, trainer.model.latent_dim, cond, n_cells)
    assert (a >= 0).all()
    loss, _ = trainer.model.generator_loss(cond, 64)
    (grad,) = torch.autograd.grad(loss, gen.fluctuations.log_scale)
    assert grad.abs().sum() > 0
    trainer.fit()
    reloaded = TrainedGenerator.from_run(tmp_path / "run")
    # the checkpoint carries the fitted quantum (a buffer) and the learned scales
    torch.testing.assert_close(reloaded.network.fluctuations.basis_of.mean_coef, gen.fluctuations.basis_of.mean_coef)
    assert reloaded.network.fluctuations.log_scale.shape == (4,)
    assert reloaded.generate({"energy": np.full(4, 10_000.0), "impact_eta": np.zeros(4)}).shape == (4, n_cells)


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
