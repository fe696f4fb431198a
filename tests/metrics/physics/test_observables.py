"""Observables on hand-made showers whose values can be worked out on paper."""

import math

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.geometry import get_geometry
from hepgan.metrics.physics import observables as obs_module
from hepgan.metrics.physics.observables import (
    compute_observables,
    eratio,
    middle_ratios,
)

ATLAS = get_geometry("atlas266")
LAYER = {layer.name: layer for layer in ATLAS.layers}


def atlas_shower(**cells):
    """One atlas266 shower from {layer name: {(i, j): MeV}}."""
    parts = [np.zeros((1, *layer.shape)) for layer in ATLAS.layers]
    for name, deposits in cells.items():
        index = [layer.name for layer in ATLAS.layers].index(name)
        for (i, j), energy in deposits.items():
            parts[index][0, i, j] = energy
    return ATLAS.join(parts)


def test_single_cell_shower_sits_on_its_cell_with_zero_width():
    eta, phi = 0.213, 0.01
    shower = atlas_shower(middle={(3, 3): 1000.0})
    o = compute_observables(shower, [2000.0], ATLAS, {"impact_eta": [eta], "impact_phi": [phi]})
    pitch_eta, pitch_phi = LAYER["middle"].pitch
    cell_eta = (math.floor(eta / pitch_eta) + 0.5) * pitch_eta  # the hit middle cell is the window centre
    cell_phi = (math.floor(phi / pitch_phi) + 0.5) * pitch_phi
    assert o["e_total"][0] == 1000.0 and o["response"][0] == 0.5
    assert o["f_middle"][0] == 1.0 and o["f_strips"][0] == 0.0
    assert o["centroid_eta_middle"][0] == pytest.approx(cell_eta, abs=1e-12)
    assert o["centroid_phi_middle"][0] == pytest.approx(cell_phi, abs=1e-12)
    assert o["offset_eta_middle"][0] == pytest.approx(cell_eta - eta, abs=1e-12)
    assert o["offset_phi_middle"][0] == pytest.approx(cell_phi - phi, abs=1e-12)
    assert o["width_eta_middle"][0] == 0.0 and o["width_phi_cells_middle"][0] == 0.0
    assert o["r_eta"][0] == 1.0 and o["r_phi"][0] == 1.0
    assert o["depth"][0] == pytest.approx(sum(LAYER["middle"].depth_x0) / 2)
    assert o["sparsity_middle"][0] == pytest.approx(1 / 49)
    # the empty layers have no shape
    for name in ("eratio", "centroid_eta_strips", "width_phi_back"):
        assert np.isnan(o[name][0]), name


def test_strip_centroid_uses_the_strip_window_around_the_hit_middle_cell():
    eta, phi = 0.2131, 0.01
    shower = atlas_shower(strips={(10, 1): 50.0})
    o = compute_observables(shower, [1000.0], ATLAS, {"impact_eta": [eta], "impact_phi": [phi]})
    pitch = LAYER["strips"].pitch[0]
    middle_centre = (math.floor(eta / LAYER["middle"].pitch[0]) + 0.5) * LAYER["middle"].pitch[0]
    first_edge = round(middle_centre / pitch) - 28  # 56 strips: the window starts 28 strips below
    assert o["centroid_eta_strips"][0] == pytest.approx((first_edge + 10.5) * pitch, abs=1e-12)
    assert o["offset_eta_strips"][0] == pytest.approx((first_edge + 10.5) * pitch - eta, abs=1e-12)
    assert o["eratio"][0] == 1.0


def test_symmetric_shower_has_its_centroid_at_the_centre_and_a_width_of_one_pitch():
    shower = atlas_shower(middle={(2, 3): 400.0, (4, 3): 400.0})
    o = compute_observables(shower, [1000.0], ATLAS)  # no impact conditions: relative to the window centre
    assert "offset_eta_middle" not in o
    assert o["centroid_eta_middle"][0] == pytest.approx(0.0, abs=1e-15)
    assert o["width_eta_middle"][0] == pytest.approx(LAYER["middle"].pitch[0])
    assert o["width_eta_cells_middle"][0] == pytest.approx(1.0)
    assert o["width_phi_middle"][0] == 0.0
    assert o["r_eta"][0] == 1.0 and o["r_phi"][0] == 1.0


def test_middle_layer_ratios_by_hand():
    # centre 6 MeV; 2 MeV at the phi edge of the centre eta row (inside 3x7, outside 3x3);
    # 2 MeV in the first eta row (outside 3x7)
    shower = atlas_shower(middle={(3, 3): 6.0, (3, 0): 2.0, (0, 3): 2.0})
    o = compute_observables(shower, [100.0], ATLAS)
    assert o["r_eta"][0] == pytest.approx(8 / 10)
    assert o["r_phi"][0] == pytest.approx(6 / 8)
    r_eta, r_phi = middle_ratios(np.arange(49.0).reshape(1, 7, 7))
    grid = np.arange(49.0).reshape(7, 7)
    assert r_eta[0] == pytest.approx(grid[2:5].sum() / grid.sum())
    assert r_phi[0] == pytest.approx(grid[2:5, 2:5].sum() / grid[2:5].sum())


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ([0, 5, 0, 3, 0], (5 - 3) / (5 + 3)),  # two peaks
        ([5, 4, 3, 2], 1.0),  # one peak at the edge
        ([3, 1, 2, 4], (4 - 3) / (4 + 3)),  # both edges are local maxima
        ([1, 3, 2, 3, 1], 0.0),  # two equal peaks
        ([0, 9, 1, 4, 2, 6, 0], (9 - 6) / (9 + 6)),  # three peaks: the two highest count
        ([2, 2, 0], 1.0),  # a flat top has no strict maximum: convention 1
        ([0, 0, 0], math.nan),  # empty
    ],
)
def test_eratio_on_hand_made_profiles(profile, expected):
    value = eratio(np.array([profile], float))[0]
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == pytest.approx(expected)


def test_eratio_from_showers_sums_the_strip_profile_over_phi():
    shower = atlas_shower(strips={(10, 0): 2.0, (10, 2): 3.0, (30, 1): 1.0, (31, 1): 2.0})
    o = compute_observables(shower, [100.0], ATLAS)
    assert o["eratio"][0] == pytest.approx((5 - 2) / (5 + 2))


def test_polar_layer_centre_and_width_in_x_and_y():
    geometry = get_geometry("calochallenge-1-photons")
    index = [layer.name for layer in geometry.layers].index("middle")
    layer = geometry.layers[index]
    parts = [np.zeros((2, *lay.shape)) for lay in geometry.layers]
    parts[index][0, 2, 4] = 10.0  # one voxel: alpha bin 2 of 10, r bin 4 = [15, 20) mm
    parts[index][1, 0, 4] = 5.0  # two opposite voxels: alpha bins 0 and 5
    parts[index][1, 5, 4] = 5.0
    o = compute_observables(geometry.join(parts), [1000.0, 1000.0], geometry)
    r = 17.5
    alpha = 2.5 * 2 * math.pi / 10
    assert o["centroid_x_middle"][0] == pytest.approx(r * math.cos(alpha))
    assert o["centroid_y_middle"][0] == pytest.approx(r * math.sin(alpha))
    assert o["width_x_middle"][0] == pytest.approx(0.0, abs=1e-6)
    assert o["centroid_x_middle"][1] == pytest.approx(0.0, abs=1e-12)
    assert o["width_x_middle"][1] == pytest.approx(r * abs(math.cos(0.5 * 2 * math.pi / 10)))
    assert layer.shape == (10, 19)
    assert "eratio" not in o and "r_eta" not in o  # polar 'strips' / 'middle' have no strip or cell shapes


def test_grid_geometry_in_mm_names_its_axes_x_and_y():
    geometry = get_geometry("calogan")
    parts = [np.zeros((1, *layer.shape)) for layer in geometry.layers]
    parts[1][0, 5, 6] = 1.0
    parts[1][0, 6, 6] = 1.0
    o = compute_observables(geometry.join(parts), [1000.0], geometry)
    assert o["centroid_x_layer_1"][0] == pytest.approx(0.0, abs=1e-12)  # between cells 5 and 6 of 12
    assert o["centroid_y_layer_1"][0] == pytest.approx(20.0)  # centre of cell 6 of 12 (40 mm cells)
    assert o["width_x_layer_1"][0] == pytest.approx(20.0)
    assert o["width_x_cells_layer_1"][0] == pytest.approx(0.5)
    assert "offset_x_layer_1" not in o


def test_vectorised_chunks_match_one_shower_at_a_time(monkeypatch):
    from hepgan.sim import simulate

    data = simulate(energies_gev=[2.0, 32.0], events_per_energy=40, seed=5)
    cond = {k: v[:, 0] for k, v in data.conditions.items()}
    whole = compute_observables(data.showers, data.incident_energies, ATLAS, cond)
    monkeypatch.setattr(obs_module, "MAX_CHUNK_VALUES", 7 * ATLAS.n_cells)  # chunks of 7 showers
    chunked = compute_observables(data.showers, data.incident_energies, ATLAS, cond)
    for i in (0, 17, 79):
        one = compute_observables(data.showers[i : i + 1], data.incident_energies[i], ATLAS,
                                  {k: v[i : i + 1] for k, v in cond.items()})
        for name in whole:
            np.testing.assert_allclose(one[name][0], whole[name][i], rtol=1e-12, atol=1e-15, err_msg=name)
    for name in whole:
        assert whole[name].dtype == np.float64 and whole[name].shape == (80,)
        np.testing.assert_allclose(whole[name], chunked[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_simulated_showers_follow_the_impact_point():
    from hepgan.sim import simulate

    data = simulate(energies_gev=[32.0], events_per_energy=400, seed=2)
    cond = {k: v[:, 0] for k, v in data.conditions.items()}
    o = compute_observables(data.showers, data.incident_energies, ATLAS, cond)
    pitch = LAYER["middle"].pitch[0]
    assert abs(np.nanmean(o["offset_eta_middle"])) < 0.05 * pitch
    assert np.nanstd(o["offset_eta_middle"]) < 0.2 * pitch  # << the spread of the impact point (0.025 / 0.025)
    assert np.all(o["response"] > 0.8) and np.all(o["response"] < 1.2)


def test_mismatched_energy_count_is_a_data_error():
    with pytest.raises(DataError, match="2 incident energies for 1 showers"):
        compute_observables(atlas_shower(middle={(3, 3): 1.0}), [1.0, 2.0], ATLAS)
    with pytest.raises(DataError, match="expects showers of shape"):
        compute_observables(np.zeros((1, 10)), [1.0], ATLAS)
