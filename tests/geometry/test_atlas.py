"""The ATLAS EM barrel window (atlas266): its cells, depths and impact range against the ATLAS design."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from hepgan.geometry import get_geometry
from hepgan.geometry.atlas import barrel_depths_x0, barrel_table

REPO = Path(__file__).resolve().parents[2]
TWO_PI = 2.0 * math.pi


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


def test_shipped_atlas_table_is_what_the_derivation_script_gives(shared_data):
    spec = importlib.util.spec_from_file_location("derive", REPO / "scripts" / "derive_atlas_table.py")
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    fresh = derive.derive(shared_data / "atlas" / "CaloCells_ATLAS-R3S-2021-03-02-00.root")
    shipped = json.loads((REPO / "src/hepgan/geometry/tables/atlas_barrel.json").read_text())
    assert fresh["layers"] == shipped["layers"]


def test_atlas266_cells_have_the_atlas_barrel_design_granularity():
    g = get_geometry("atlas266")
    assert g.n_cells == 7 * 3 + 56 * 3 + 7 * 7 + 4 * 7 == 266
    assert [layer.name for layer in g.layers] == ["presampler", "strips", "middle", "back"]
    # ATLAS EM barrel (TDR): presampler 0.025 x 2pi/64, strips 0.025/8 x 2pi/64,
    # middle 0.025 x 2pi/256, back 0.05 x 2pi/256 in eta x phi.
    design = [(0.025, TWO_PI / 64), (0.025 / 8, TWO_PI / 64), (0.025, TWO_PI / 256), (0.05, TWO_PI / 256)]
    for layer, pitch in zip(g.layers, design):
        assert layer.units == ("eta", "phi") and layer.follows_impact
        assert layer.pitch == pytest.approx(pitch, rel=1e-6)
        # eta and phi turn into transverse mm at the layer's radius
        assert layer.mm_per_unit[0] == layer.mm_per_unit[1] == barrel_table()[layer.id]["r_mm"]
    radii = [layer.mm_per_unit[0] for layer in g.layers]
    assert radii == sorted(radii) and 1400 < radii[0] and radii[-1] < 2000  # the barrel sits at 1.4-2.0 m


def test_barrel_depths_follow_the_documented_material_budget():
    table, depths = barrel_table(), barrel_depths_x0()
    along_track = math.cosh(0.225)
    assert depths[0][0] == pytest.approx(1.7)  # inner detector, solenoid and cryostat
    # the presampler is liquid argon, X0 = 140 mm (PDG)
    assert depths[0][1] - depths[0][0] == pytest.approx(table[0]["dr_mm"] * along_track / 140.0)
    for front, back in ((0, 1), (1, 2), (2, 3), (12, 13), (13, 14)):
        assert depths[back][0] == pytest.approx(depths[front][1])
    assert depths[12][0] == pytest.approx(depths[3][1] + 1.5)  # cryostat before the tile calorimeter
    # tile: 14 mm steel / 3 mm scintillator periods; X0 = 17.57 mm (Fe) and 425.4 mm (PVT), PDG
    tile_x0 = 1.0 / ((14 / 17) / 17.57 + (3 / 17) / 425.4)
    for sampling in (12, 13, 14):
        front, back = depths[sampling]
        assert back - front == pytest.approx(table[sampling]["dr_mm"] * along_track / tile_x0, rel=1e-3)


def test_atlas266_impacts_cover_the_eta_window_and_one_presampler_cell_in_phi():
    g = get_geometry("atlas266")
    assert g.impact.names == ("impact_eta", "impact_phi") and g.impact.lateral
    assert g.impact.low == pytest.approx((0.20, 0.0))
    assert g.impact.high == pytest.approx((0.25, TWO_PI / 64), rel=1e-6)
    assert g.reference_eta == pytest.approx(0.225)  # the middle of the eta window
    assert g.layers[g.anchor_layer].name == "middle"
    impact = g.sample_impact(np.random.default_rng(0), 2000)
    assert (impact["impact_eta"] >= 0.20).all() and (impact["impact_eta"] < 0.25).all()
    assert (impact["impact_phi"] >= 0.0).all() and (impact["impact_phi"] < TWO_PI / 64).all()
    # both halves of the eta window are drawn (uniformly, not at a fixed point)
    assert 0.4 < np.mean(impact["impact_eta"] < 0.225) < 0.6
