"""The reference simulator's mechanics: reproducible random streams, spots, fluctuations, noise and output."""

import math

import numpy as np
import pytest

from hepgan.data.hdf5 import read_showers
from hepgan.data.showers import ShowerData
from hepgan.errors import DataError
from hepgan.geometry import get_geometry
from hepgan.sim import SimConfig, event_conditions, simulate, simulate_with_truth
from hepgan.sim.simulate import block_rows, iter_simulation

ATLAS = get_geometry("atlas266")


def test_same_seed_same_showers_whatever_the_chunk_size_or_process_count():
    a = simulate(energies_gev=[4.0, 65.0], events_per_energy=1500, seed=9, chunk_size=1024)
    b = simulate(energies_gev=[4.0, 65.0], events_per_energy=1500, seed=9, chunk_size=100_000)
    np.testing.assert_array_equal(a.showers, b.showers)
    np.testing.assert_array_equal(a.incident_energies, b.incident_energies)
    config = SimConfig(energies_gev=[4.0, 65.0], events_per_energy=1500, seed=9, chunk_size=1024)
    in_two_processes = ShowerData.concat(list(iter_simulation(config, workers=2)))
    np.testing.assert_array_equal(a.showers, in_two_processes.showers)
    c = simulate(energies_gev=[4.0, 65.0], events_per_energy=1500, seed=10)
    assert not np.array_equal(a.showers, c.showers)


def test_noise_and_clipping():
    noisy = simulate(energies_gev=[8.0], events_per_energy=500, noise_mev=20.0, clip_negative=False, seed=1)
    assert (noisy.showers < 0).any()
    clipped = simulate(energies_gev=[8.0], events_per_energy=500, noise_mev=20.0, seed=1)
    assert (clipped.showers >= 0).all()
    per_layer = simulate(energies_gev=[8.0], events_per_energy=200, noise_mev=[0.0, 0.0, 0.0, 50.0], clip_negative=False)
    back = ATLAS.layer_slices[3]
    assert (per_layer.showers[:, :back.start] >= 0).all() and (per_layer.showers[:, back] < 0).any()


def test_random_stream_blocks_hold_at_most_2_to_the_22_cell_values():
    # 1024 rows unless that exceeds 2**22 values: 6480 cells -> 512 rows, 40500 cells -> 64 rows
    expected = {"atlas266": 1024, "calogan": 1024, "calochallenge-2": 512, "calochallenge-3": 64}
    for name, rows in expected.items():
        n_cells = get_geometry(name).n_cells
        assert block_rows(get_geometry(name)) == rows
        assert rows * n_cells <= 2**22 and (rows == 1024 or 2 * rows * n_cells > 2**22)


def test_event_conditions_give_each_energy_its_count_and_impacts_in_range():
    config = SimConfig(energies_gev=[1.0, 8.0], events_per_energy=150, seed=2)
    energies, conditions = event_conditions(config)
    values, counts = np.unique(energies, return_counts=True)
    assert values.tolist() == [1000.0, 8000.0] and counts.tolist() == [150, 150]  # MeV
    eta, phi = conditions["impact_eta"], conditions["impact_phi"]
    assert eta.shape == phi.shape == (300,)
    assert ((eta >= 0.20) & (eta < 0.25)).all() and ((phi >= 0.0) & (phi < ATLAS.impact.high[1])).all()
    again_energies, again = event_conditions(config)
    np.testing.assert_array_equal(energies, again_energies)
    np.testing.assert_array_equal(eta, again["impact_eta"])


def test_without_fluctuations_the_cells_hold_whole_spots_of_the_deposited_energy():
    energy_gev = 8.0
    data, truth = simulate_with_truth(energies_gev=[energy_gev], events_per_energy=200, sampling_term=0.0,
                                      constant_term=0.0, seed=6)
    e_mev = 1000.0 * energy_gev
    # N = 10.3 ln(Z_eff) E^0.959 spots (GFLASH, sampling calorimeter)
    n_spots = round(10.3 * math.log(ATLAS.material.z_eff) * energy_gev**0.959)
    quanta = data.showers.astype(np.float64) / (e_mev / n_spots)
    np.testing.assert_allclose(quanta, np.round(quanta), atol=1e-3)
    totals = data.showers.sum(1, dtype=np.float64)
    np.testing.assert_allclose(totals, truth.deposited_mev, rtol=1e-5)
    assert (truth.deposited_mev <= e_mev).all() and np.round(quanta).sum(1).max() <= n_spots
    # most of an 8 GeV shower is inside the 25 X0 deep window
    assert 0.8 < np.median(totals / e_mev) < 1.0


def test_photons_convert_after_an_exponential_depth_and_electrons_start_at_once():
    _, photons = simulate_with_truth(energies_gev=[4.0], events_per_energy=400, particle="photon", seed=8)
    _, electrons = simulate_with_truth(energies_gev=[4.0], events_per_energy=50, particle="electron", seed=8)
    np.testing.assert_array_equal(electrons.start_depth_x0, 0.0)
    depth = photons.start_depth_x0
    assert (depth >= 0).all()
    # mean free path 9/7 X0 (the standard error of the mean of 400 draws is 0.064 X0)
    assert depth.mean() == pytest.approx(9.0 / 7.0, abs=0.26)
    assert np.median(depth) == pytest.approx(9.0 / 7.0 * math.log(2.0), abs=0.2)


def test_overrides_and_truth_give_the_showers_of_the_equivalent_config():
    config = SimConfig(energies_gev=[2.0, 16.0], events_per_energy=60, seed=5)
    direct = simulate(config)
    overridden = simulate(SimConfig(seed=99), energies_gev=[2.0, 16.0], events_per_energy=60, seed=5)
    with_truth, _ = simulate_with_truth(config)
    for other in (overridden, with_truth):
        np.testing.assert_array_equal(direct.showers, other.showers)
        np.testing.assert_array_equal(direct.incident_energies, other.incident_energies)
    assert direct.geometry == "atlas266" and direct.showers.dtype == np.float32
    assert direct.attrs["sim_config"]["seed"] == 5 and direct.attrs["simulator"] == "hepgan.sim"


def test_streaming_to_a_file_writes_the_in_memory_showers_and_their_summary(tmp_path):
    # 1400 showers with the smallest chunk: two chunks of whole 1024-row blocks
    config = SimConfig(energies_gev=[1.0, 32.0], events_per_energy=700, seed=4, chunk_size=1)
    out = tmp_path / "showers.h5"
    summary = simulate(config, out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["showers.h5"]
    data, expected = read_showers(out), simulate(config)
    np.testing.assert_array_equal(data.showers, expected.showers)
    np.testing.assert_array_equal(data.incident_energies, expected.incident_energies)
    for name in ("impact_eta", "impact_phi"):
        np.testing.assert_array_equal(data.conditions[name], expected.conditions[name])
    assert [(row["energy_gev"], row["n"]) for row in summary.rows()] == [(1.0, 700), (32.0, 700)]
    assert summary.seconds is not None and summary.seconds > 0


def test_a_file_that_cannot_be_written_is_a_data_error_and_leaves_nothing(tmp_path):
    out = tmp_path / "absent" / "showers.h5"
    with pytest.raises(DataError, match="does not exist"):
        simulate(energies_gev=[1.0], events_per_energy=10, out=out)
    assert not out.parent.exists() and list(tmp_path.iterdir()) == []
