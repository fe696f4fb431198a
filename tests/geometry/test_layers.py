"""Readout layers: where a layer's window sits on the detector's cell grid, and how cells are ordered."""

import numpy as np
import pytest

from hepgan.geometry import GridLayer, PolarLayer, get_geometry


def _grid(shape, pitch=(1.0, 1.0), follows_impact=True, mm_per_unit=(1.0, 1.0)):
    return GridLayer(id=0, name="g", depth_x0=(0.0, 1.0), shape=shape, pitch=pitch, units=("eta", "phi"),
                     mm_per_unit=mm_per_unit, follows_impact=follows_impact)


def test_calochallenge_voxel_order_is_alpha_then_radial_fastest():
    g = get_geometry("calochallenge-1-photons")
    strips = g.layers[1]
    assert isinstance(strips, PolarLayer) and strips.shape == (10, 16)
    centres = strips.cell_centres()
    r = centres[:, 1].reshape(10, 16)
    assert (np.diff(r, axis=1) > 0).all()  # radial index fastest
    assert (centres[:, 0].reshape(10, 16).std(axis=1) == 0).all()  # one alpha per row
    assert [layer.id for layer in g.layers] == [0, 1, 2, 3, 12]


def test_neighbours_are_symmetric_and_local():
    for name in ("atlas266", "calochallenge-1-photons"):
        g = get_geometry(name)
        for i, nbrs in enumerate(g.neighbours):
            for j in nbrs:
                assert i in g.neighbours[j]
                assert g.cell_layer[i] == g.cell_layer[j]
    g = get_geometry("atlas266")
    assert len(g.neighbours[0]) == 2  # a corner cell of the presampler grid
    assert isinstance(g.layers[0], GridLayer)


def test_layer_size_and_thickness():
    layer = GridLayer(id=3, name="l", depth_x0=(2.5, 6.0), shape=(4, 7))
    assert layer.n_cells == 28 and layer.thickness_x0 == pytest.approx(3.5)


def test_an_odd_window_is_centred_on_the_cell_holding_the_anchor():
    layer = _grid((3, 5), pitch=(1.0, 0.5))
    ea, eb = layer.window_edges(np.array([0.3, -0.2, 2.0]), np.array([0.3, 0.3, -0.3]))
    np.testing.assert_allclose(ea, [[-1, 0, 1, 2], [-2, -1, 0, 1], [1, 2, 3, 4]])  # cells [0,1), [-1,0), [2,3)
    np.testing.assert_allclose(eb, [[-1.0, -0.5, 0.0, 0.5, 1.0, 1.5], [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5],
                                    [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0]])


def test_an_even_window_is_centred_on_the_cell_edge_nearest_the_anchor():
    layer = _grid((4, 2))
    ea, eb = layer.window_edges(np.array([0.3, 0.7, -1.6]), np.array([0.3, 0.7, -1.6]))
    np.testing.assert_allclose(ea, [[-2, -1, 0, 1, 2], [-1, 0, 1, 2, 3], [-4, -3, -2, -1, 0]])
    np.testing.assert_allclose(eb, [[-1, 0, 1], [0, 1, 2], [-3, -2, -1]])


def test_a_fixed_window_is_centred_on_zero_wherever_the_shower_lands():
    layer = _grid((4, 3), pitch=(2.0, 1.0), follows_impact=False)
    ea, eb = layer.window_edges(np.array([0.3, 5.0]), np.array([-7.0, 0.1]))
    np.testing.assert_allclose(ea, [[-4, -2, 0, 2, 4]] * 2)
    np.testing.assert_allclose(eb, [[-1.5, -0.5, 0.5, 1.5]] * 2)


def test_lateral_edges_are_millimetres_from_the_shower_axis():
    # a layer at r = 1500 mm with 0.025 x 0.025 cells: each cell is 37.5 mm wide there
    layer = _grid((3, 3), pitch=(0.025, 0.025), mm_per_unit=(1500.0, 1500.0))
    xe, ye = layer.lateral_edges_mm(np.array([0.2100]), np.array([0.0125]))
    # eta 0.21 lies in the cell [0.200, 0.225): the window is [0.175, 0.250)
    np.testing.assert_allclose(xe, [[-0.0350 * 1500, -0.0100 * 1500, 0.0150 * 1500, 0.0400 * 1500]], atol=1e-9)
    np.testing.assert_allclose(ye, [[-1.5 * 37.5, -0.5 * 37.5, 0.5 * 37.5, 1.5 * 37.5]], atol=1e-9)
    # with an anchor elsewhere the window moves to the anchor's cell, the edges stay relative to the impact
    xe, _ = layer.lateral_edges_mm(np.array([0.2100]), np.array([0.0125]), np.array([0.2400]), np.array([0.0125]))
    np.testing.assert_allclose(xe, [[-0.0100 * 1500, 0.0150 * 1500, 0.0400 * 1500, 0.0650 * 1500]], atol=1e-9)


def test_cell_centre_of_a_point_is_on_the_fixed_grid():
    layer = _grid((3, 3), pitch=(0.025, 0.1))
    a, b = layer.cell_centre_of(np.array([0.2101, -0.01]), np.array([0.05, 0.35]))
    np.testing.assert_allclose(a, [0.2125, -0.0125])
    np.testing.assert_allclose(b, [0.05, 0.35])


def test_grid_cell_centres_sizes_and_neighbours():
    layer = _grid((2, 3), pitch=(2.0, 1.0))
    np.testing.assert_allclose(layer.cell_centres(), [[-1, -1], [-1, 0], [-1, 1], [1, -1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(layer.cell_sizes(), [[2.0, 1.0]] * 6)
    assert [n.tolist() for n in layer.neighbours()] == [[3, 1], [4, 0, 2], [5, 1], [0, 4], [1, 3, 5], [2, 4]]


def test_polar_cells_run_radially_fastest_and_wrap_around_in_alpha():
    layer = PolarLayer(id=0, name="p", depth_x0=(0.0, 1.0), shape=(4, 3), r_edges_mm=(0.0, 2.0, 5.0, 10.0))
    centres = layer.cell_centres()
    np.testing.assert_allclose(centres[:3], [[np.pi / 4, 1.0], [np.pi / 4, 3.5], [np.pi / 4, 7.5]])
    np.testing.assert_allclose(centres[::3, 0], (np.arange(4) + 0.5) * np.pi / 2)
    np.testing.assert_allclose(layer.cell_sizes()[:4], [[np.pi / 2, 2.0], [np.pi / 2, 3.0], [np.pi / 2, 5.0],
                                                        [np.pi / 2, 2.0]])
    nbrs = layer.neighbours()
    assert nbrs[0].tolist() == [1, 3, 9]  # radial neighbour, and alpha bins 1 and 3 (cyclic)
    assert nbrs[4].tolist() == [1, 3, 5, 7]
    # one alpha bin: radial neighbours only; two alpha bins: the other bin counts once
    single = PolarLayer(id=0, name="p", depth_x0=(0.0, 1.0), shape=(1, 3), r_edges_mm=(0.0, 1.0, 2.0, 3.0))
    assert [n.tolist() for n in single.neighbours()] == [[1], [0, 2], [1]]
    double = PolarLayer(id=0, name="p", depth_x0=(0.0, 1.0), shape=(2, 1), r_edges_mm=(0.0, 1.0))
    assert [n.tolist() for n in double.neighbours()] == [[1], [0]]
