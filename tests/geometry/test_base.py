"""Geometry: the flat cell vector, its layers, windows, alignment and impact handling."""

import json

import numpy as np
import pytest

from hepgan.errors import ConfigError, DataError, GeometryError
from hepgan.geometry import Geometry, GridLayer, get_geometry
from hepgan.geometry.material import Material

PB = Material.homogeneous("Pb")


def _grid(id, name, depth, shape):
    return GridLayer(id=id, name=name, depth_x0=depth, shape=shape)


def test_impact_offset_is_the_position_in_the_hit_middle_cell():
    g = get_geometry("atlas266")
    rng = np.random.default_rng(4)
    n = 400
    cond = {"impact_eta": rng.uniform(0.20, 0.25, n), "impact_phi": rng.uniform(0.0, 0.098, n)}
    middle = g.layers[g.anchor_layer]
    me, mp = g.window_edges(middle, cond, n)
    offset = g.derived_condition("impact_offset", cond, n)
    assert offset.shape == (n, 2) and (offset >= -0.5).all() and (offset < 0.5).all()
    # the central middle cell is [me[:, 3], me[:, 4]): the offset is the impact's place in it
    np.testing.assert_allclose(offset[:, 0], (cond["impact_eta"] - me[:, 3]) / middle.pitch[0] - 0.5, atol=1e-9)
    np.testing.assert_allclose(offset[:, 1], (cond["impact_phi"] - mp[:, 3]) / middle.pitch[1] - 0.5, atol=1e-9)
    with pytest.raises(ConfigError, match="no anchor layer"):
        get_geometry("calochallenge-1-photons").derived_condition("impact_offset", {}, 3)
    with pytest.raises(ConfigError, match="not a derived condition"):
        g.derived_condition("impact_eta", cond, n)


def test_split_join_round_trip_and_layer_energies():
    g = get_geometry("atlas266")
    x = np.random.default_rng(0).random((5, g.n_cells))
    parts = g.split(x)
    assert [p.shape[1:] for p in parts] == [layer.shape for layer in g.layers]
    np.testing.assert_array_equal(g.join(parts), x)
    np.testing.assert_allclose(g.layer_energies(x).sum(1), x.sum(1))
    with pytest.raises(DataError, match=r"expects showers of shape \(N, 266\)"):
        g.split(x[:, :10])


def test_a_geometry_needs_layers_that_follow_each_other_in_depth():
    with pytest.raises(GeometryError, match="geometry 'empty' has no layers"):
        Geometry("empty", [], PB)
    with pytest.raises(GeometryError, match="geometry 'overlap': layer b starts before a ends"):
        Geometry("overlap", [_grid(0, "a", (0.0, 2.0), (1, 1)), _grid(1, "b", (1.5, 3.0), (1, 1))], PB)
    touching = Geometry("touching", [_grid(0, "a", (0.0, 2.0), (1, 1)), _grid(1, "b", (2.0, 3.0), (1, 1))], PB)
    assert touching.n_cells == 2


def test_cells_are_numbered_layer_by_layer_row_major_within_each_layer():
    g = Geometry("two", [_grid(0, "a", (0.0, 1.0), (2, 3)), _grid(1, "b", (1.0, 2.0), (1, 4))], PB)
    assert g.layer_sizes == (6, 4) and g.n_cells == 10
    assert g.layer_slices == (slice(0, 6), slice(6, 10))
    np.testing.assert_array_equal(g.cell_layer, [0] * 6 + [1] * 4)
    x = np.arange(20.0).reshape(2, 10)
    np.testing.assert_array_equal(g.layer_energies(x), [[0 + 1 + 2 + 3 + 4 + 5, 6 + 7 + 8 + 9],
                                                        [10 + 11 + 12 + 13 + 14 + 15, 16 + 17 + 18 + 19]])
    a, b = g.split(x)
    np.testing.assert_array_equal(a[1], [[10, 11, 12], [13, 14, 15]])
    np.testing.assert_array_equal(b[0], [[6, 7, 8, 9]])
    # neighbours are global indices and never cross a layer boundary
    assert g.neighbours[5].tolist() == [2, 4] and g.neighbours[6].tolist() == [7]
    with pytest.raises(DataError, match=r"layer b expects \(N, 1, 4\), got \(2, 4, 1\)"):
        g.join([a, b.reshape(2, 4, 1)])
    with pytest.raises(DataError, match="geometry 'two' has 2 layers, got 1 arrays"):
        g.join([a])


def test_a_layer_without_cells_holds_no_energy():
    g = Geometry("gap", [_grid(0, "a", (0.0, 1.0), (2, 2)), _grid(1, "none", (1.0, 2.0), (0, 3)),
                         _grid(2, "c", (2.0, 3.0), (1, 1))], PB)
    x = np.arange(10.0).reshape(2, 5)
    np.testing.assert_array_equal(g.layer_energies(x), [[6.0, 0.0, 4.0], [26.0, 0.0, 9.0]])


def test_alignment_is_a_two_hot_code_of_where_the_coarser_windows_sit():
    g = get_geometry("atlas266")
    n = 2000
    cond = g.sample_impact(np.random.default_rng(5), n)
    code = g.derived_condition("alignment", cond, n)
    # eta: a back cell spans 2 middle cells (2 positions); phi: a presampler/strip cell spans 4 (4 positions)
    assert code.shape == (n, 2 + 4)
    assert (code[:, :2].sum(1) == 1).all() and (code[:, 2:].sum(1) == 1).all()
    presampler, _, middle, back = g.layers
    me, mp = g.window_edges(middle, cond, n)
    be, _ = g.window_edges(back, cond, n)
    _, pp = g.window_edges(presampler, cond, n)
    for classes, offset, k in (
        (code[:, :2].argmax(1), (be[:, 0] - me[:, 0]) / middle.pitch[0], 2),
        (code[:, 2:].argmax(1), (pp[:, 0] - mp[:, 0]) / middle.pitch[1], 4),
    ):
        offset = np.round(offset, 6)
        assert len(np.unique(classes)) == k
        # each class is one placement of the coarse window around the middle window, and vice versa
        assert [len(np.unique(offset[classes == c])) for c in range(k)] == [1] * k
        assert len(np.unique(offset)) == k
    calogan = get_geometry("calogan")  # no anchor layer: nothing to align
    assert calogan.alignment({}, 3).shape == (3, 0) and calogan.impact_offset({}, 3).shape == (3, 0)


def test_tracks_away_from_the_reference_eta_cross_more_material():
    g = get_geometry("atlas266")
    eta = np.array([0.20, 0.225, 0.25])
    scale = g.path_scale({"impact_eta": eta}, 3)
    np.testing.assert_allclose(scale, np.cosh(eta) / np.cosh(0.225))
    assert scale[0] < 1.0 < scale[2] and scale[1] == pytest.approx(1.0)
    np.testing.assert_array_equal(g.path_scale({}, 3), np.ones(3))
    np.testing.assert_array_equal(get_geometry("calogan").path_scale({"impact_eta": eta}, 3), np.ones(3))


def test_impact_coordinates_need_every_impact_condition():
    g = get_geometry("atlas266")
    cond = {"impact_eta": np.array([0.21, 0.22]), "impact_phi": np.array([0.01, 0.02])}
    eta, phi = g.impact_coordinates(cond, 2)
    np.testing.assert_array_equal(eta, cond["impact_eta"])
    np.testing.assert_array_equal(phi, cond["impact_phi"])
    with pytest.raises(DataError, match="geometry 'atlas266' needs the condition 'impact_phi'"):
        g.impact_coordinates({"impact_eta": cond["impact_eta"]}, 2)
    # geometries without lateral impact conditions put every shower at the window centre
    for name in ("calogan", "calochallenge-1-photons"):
        a, b = get_geometry(name).impact_coordinates({"impact_eta": cond["impact_eta"]}, 2)
        np.testing.assert_array_equal(a, [0.0, 0.0])
        np.testing.assert_array_equal(b, [0.0, 0.0])
    with pytest.raises(ConfigError, match="no anchor layer"):
        get_geometry("calogan").derived_condition("alignment", {}, 2)


def test_impacts_are_drawn_from_the_given_stream_and_fixed_geometries_draw_none():
    g = get_geometry("atlas266")
    first = g.sample_impact(np.random.default_rng(7), 50)
    again = g.sample_impact(np.random.default_rng(7), 50)
    assert sorted(first) == ["impact_eta", "impact_phi"]
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert get_geometry("calogan").sample_impact(np.random.default_rng(7), 50) == {}


def test_describe_is_a_json_summary_of_the_layers():
    for name, kind in (("atlas266", "grid"), ("calochallenge-1-photons", "polar")):
        g = get_geometry(name)
        summary = json.loads(json.dumps(g.describe()))
        assert summary["name"] == name and summary["n_cells"] == g.n_cells
        assert [layer["kind"] for layer in summary["layers"]] == [kind] * len(g.layers)
        assert [tuple(layer["shape"]) for layer in summary["layers"]] == [layer.shape for layer in g.layers]
        assert sum(a * b for a, b in (layer["shape"] for layer in summary["layers"])) == g.n_cells
        assert summary["material"]["x0_mm"] == pytest.approx(g.material.x0_mm, abs=1e-4)
    assert repr(get_geometry("calogan")) == "Geometry('calogan', 3 layers, 504 cells)"
