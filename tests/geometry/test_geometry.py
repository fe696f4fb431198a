import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from hepgan.errors import ConfigError, DataError, GeometryError
from hepgan.geometry import (
    GridLayer,
    PolarLayer,
    get_geometry,
    list_geometries,
    read_binning,
)
from hepgan.geometry.atlas import barrel_depths_x0, barrel_table
from hepgan.geometry.material import Material

REPO = Path(__file__).resolve().parents[2]
EXPECTED_CELLS = {
    "atlas266": 266,
    "calogan": 504,
    "calochallenge-1-photons": 368,
    "calochallenge-1-pions": 533,
    "calochallenge-2": 6480,
    "calochallenge-3": 40500,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_CELLS))
def test_registered_geometries_have_the_published_cell_counts(name):
    g = get_geometry(name)
    assert g.n_cells == EXPECTED_CELLS[name]
    assert g.cell_layer.shape == (g.n_cells,)
    assert g.cell_centres.shape == (g.n_cells, 2)
    assert g.cell_sizes.shape == (g.n_cells, 2) and (g.cell_sizes > 0).all()
    assert len(g.neighbours) == g.n_cells


def test_registry_lists_all_and_rejects_unknown_names_with_the_valid_ones():
    assert set(EXPECTED_CELLS) <= set(list_geometries())
    with pytest.raises(GeometryError, match="unknown geometry 'atlas267'.*atlas266"):
        get_geometry("atlas267")


def test_atlas266_layers_match_the_seed_window_and_the_real_cell_table():
    g = get_geometry("atlas266")
    assert [layer.shape for layer in g.layers] == [(7, 3), (56, 3), (7, 7), (4, 7)]
    table = barrel_table()
    for layer in g.layers:
        assert layer.pitch == (table[layer.id]["deta"], table[layer.id]["dphi"])
    strips, middle = g.layers[1], g.layers[2]
    assert strips.pitch[0] * 8 == pytest.approx(middle.pitch[0])  # 8 strips per middle cell
    # Layers are contiguous in depth and the accordion is ~22 X0 * cosh(0.225) deep.
    depths = [layer.depth_x0 for layer in g.layers]
    for (_, back), (front, _) in zip(depths, depths[1:]):
        assert front == pytest.approx(back)
    assert depths[3][1] - depths[1][0] == pytest.approx(22.0 * np.cosh(0.225), rel=1e-6)


def test_atlas266_windows_are_centred_on_the_hit_middle_cell_and_strips_nest_in_it():
    g = get_geometry("atlas266")
    rng = np.random.default_rng(3)
    n = 500
    cond = {"impact_eta": rng.uniform(0.20, 0.25, n), "impact_phi": rng.uniform(0.0, 0.098, n)}
    eta, phi = cond["impact_eta"], cond["impact_phi"]
    presampler, strips, middle, back = g.layers
    se, _ = g.window_edges(strips, cond, n)
    me, mp = g.window_edges(middle, cond, n)
    pe, _ = g.window_edges(presampler, cond, n)
    be, _ = g.window_edges(back, cond, n)
    np.testing.assert_allclose(se[:, ::8], me, atol=1e-12)  # 8 strips per middle cell, aligned
    np.testing.assert_allclose(pe, me, atol=1e-12)  # same eta pitch as the middle layer
    # the impact lies in the central middle cell
    assert ((eta >= me[:, 3]) & (eta < me[:, 4])).all()
    assert ((phi >= mp[:, 3]) & (phi < mp[:, 4])).all()
    # the back window sits in one of two alignments, set by the middle cell hit (the seed's two-hot)
    # (the 4 back cells span 8 middle cells: the extra one falls before or after the middle window)
    offsets = np.round((be[:, 0] - me[:, 0]) / middle.pitch[0], 6) + 0.0
    assert sorted(np.unique(offsets)) == [-1.0, 0.0]
    # transverse edges are measured from the shower axis: the impact lies inside the window
    xe, ye = g.lateral_edges_mm(middle, cond, n)
    assert ((xe[:, 0] < 0) & (xe[:, -1] > 0) & (ye[:, 0] < 0) & (ye[:, -1] > 0)).all()


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


def test_calochallenge_voxel_order_is_alpha_then_radial_fastest():
    g = get_geometry("calochallenge-1-photons")
    strips = g.layers[1]
    assert isinstance(strips, PolarLayer) and strips.shape == (10, 16)
    centres = strips.cell_centres()
    r = centres[:, 1].reshape(10, 16)
    assert (np.diff(r, axis=1) > 0).all()  # radial index fastest
    assert (centres[:, 0].reshape(10, 16).std(axis=1) == 0).all()  # one alpha per row
    assert [layer.id for layer in g.layers] == [0, 1, 2, 3, 12]


def test_shipped_binnings_equal_the_challenge_files(shared_data):
    from hepgan.geometry.calochallenge import BINNING_FILES

    for name, filename in BINNING_FILES.items():
        real = read_binning(shared_data / "calochallenge" / filename)
        g = get_geometry(name)
        assert [(layer.id, layer.r_edges_mm, layer.n_alpha) for layer in g.layers] == real


def test_shipped_atlas_table_is_what_the_derivation_script_gives(shared_data):
    spec = importlib.util.spec_from_file_location("derive", REPO / "scripts" / "derive_atlas_table.py")
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    fresh = derive.derive(shared_data / "atlas" / "CaloCells_ATLAS-R3S-2021-03-02-00.root")
    shipped = json.loads((REPO / "src/hepgan/geometry/tables/atlas_barrel.json").read_text())
    assert fresh["layers"] == shipped["layers"]


def test_binning_errors_are_clear():
    with pytest.raises(GeometryError, match="not a valid binning XML"):
        read_binning("<Bins><Layer")
    with pytest.raises(GeometryError, match="r_edges must increase"):
        read_binning('<Bins><Bin><Layer id="0" r_edges="0,5,3" n_bin_alpha="1"/></Bin></Bins>')


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


def test_sampling_material_follows_the_mixing_rules():
    m = Material.sampling("Pb", 1.53, "LAr", 4.2)
    # 1/X0 = sum of thickness fraction / X0
    assert 1 / m.x0_mm == pytest.approx((1.53 / 5.73) / 5.612 + (4.2 / 5.73) / 140.0)
    assert m.sampling_frequency == pytest.approx(m.x0_mm / 5.73)
    assert m.e_over_mip == pytest.approx(1 / (1 + 0.007 * (82 - 18)))
    assert 30 < m.moliere_mm < 50 and 8 < m.critical_energy_mev < 12
    with pytest.raises(GeometryError, match="unknown medium 'Xx'"):
        Material.sampling("Xx", 1.0, "LAr", 1.0)


def test_calochallenge_1_depths_reuse_the_atlas_barrel():
    g = get_geometry("calochallenge-1-photons")
    depths = barrel_depths_x0()
    assert [layer.depth_x0 for layer in g.layers] == [depths[i] for i in (0, 1, 2, 3, 12)]
