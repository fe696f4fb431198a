"""The condition-dependent standardisation: means and widths as functions of the conditions, with an
optional spline in the conditions with many values."""

import numpy as np
import pytest
import torch

from hepgan.models.calo import ConditionalStandardiser
from hepgan.models.config import ModelConfig
from tests.models.calo._helpers import CALO_MODEL


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
