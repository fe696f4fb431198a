"""What the critics see besides the features: layer shape summaries, linear cell shares, the strips'
E_ratio."""

import numpy as np
import pytest
import torch

from hepgan.geometry import get_geometry
from hepgan.models.calo import LinearShares, ShapeSummaries, StripEratio


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
