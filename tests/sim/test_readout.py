"""The readout shared by every particle kind: one calibration factor per shower, noise per cell,
negative cells clipped unless asked to keep them."""

import numpy as np

from hepgan.geometry import get_geometry
from hepgan.sim import SimConfig
from hepgan.sim.readout import read_out

GEOMETRY = get_geometry("calochallenge-1-photons")


def test_the_constant_term_scales_each_shower_as_a_whole():
    visible = np.random.default_rng(0).uniform(1.0, 2.0, (500, GEOMETRY.n_cells))
    out = read_out(SimConfig(geometry=GEOMETRY.name, constant_term=0.05), GEOMETRY, visible.copy(),
                   np.random.default_rng(1))
    factor = out / visible
    assert np.allclose(factor, factor[:, :1])  # one factor per shower
    assert abs(factor[:, 0].std() - 0.05) < 0.01 and abs(factor[:, 0].mean() - 1.0) < 0.01


def test_noise_per_layer_and_clipping():
    config = dict(geometry=GEOMETRY.name, constant_term=0.0, noise_mev=[0.0, 0.0, 10.0, 0.0, 0.0])
    zeros = np.zeros((200, GEOMETRY.n_cells))
    clipped = read_out(SimConfig(**config), GEOMETRY, zeros.copy(), np.random.default_rng(2))
    kept = read_out(SimConfig(**config, clip_negative=False), GEOMETRY, zeros.copy(), np.random.default_rng(2))
    noisy = GEOMETRY.cell_layer == 2
    assert (clipped >= 0).all() and (kept[:, noisy] < 0).any()
    assert np.all(kept[:, ~noisy] == 0) and abs(kept[:, noisy].std() - 10.0) < 0.5
    np.testing.assert_array_equal(clipped, np.maximum(kept, 0.0))
