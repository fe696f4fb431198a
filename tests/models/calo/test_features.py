"""The hierarchical shower features (response, layer split, cell shares) and the generator's head
that inverts them."""

import numpy as np
import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.models.calo import ShowerFeatures, feature_dim


def _encoded_energy(energies):
    log_e = np.log(energies)
    return ((log_e - log_e.mean()) / log_e.std())[:, None]


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


def test_features_saved_before_the_adaptive_floor_still_load():
    """Checkpoints written before log_eps_coef existed load with their fixed eps."""
    features = ShowerFeatures("atlas266", cond_dim=1, degree=1, eps_layer=1e-5, eps_cell=1e-3)
    old = {k: v for k, v in features.state_dict().items() if k != "log_eps_coef"}
    fresh = ShowerFeatures("atlas266", cond_dim=1, degree=1, eps_layer=1e-5, eps_cell=1e-3)
    fresh.load_state_dict(old)
    np.testing.assert_allclose(fresh.eps_cells(torch.zeros(2, 1), 2).numpy(), 1e-3, rtol=1e-6)
