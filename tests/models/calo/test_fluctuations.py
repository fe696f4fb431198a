"""Cell fluctuations by the layers' energy quanta, the cell floor and whole-deposit sampling."""

import math

import numpy as np
import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.metrics.physics.observables import eratio
from hepgan.models import build_model
from hepgan.models.calo import CellFluctuations
from hepgan.models.config import ModelConfig
from hepgan.sim import simulate
from tests.models.calo._helpers import CALO_MODEL


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
