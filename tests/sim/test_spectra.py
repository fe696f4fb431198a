"""The CaloChallenge 2022 energy spectra by name: exact energies and counts, scaling, and how the
simulator draws them (the config fields a spectrum replaces are tested in test_config.py)."""

import numpy as np
import pytest

from hepgan.errors import ConfigError
from hepgan.sim import SPECTRA, SimConfig, event_conditions, get_spectrum, simulate
from hepgan.sim.config import ENERGY_LIMITS_GEV

DS1_MEV = [256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0, 131072.0, 262144.0,
           524288.0, 1048576.0, 2097152.0, 4194304.0]
DS1_COUNTS = [10_000] * 11 + [5_000, 3_000, 2_000, 1_000]


def test_dataset_1_has_the_challenges_15_energies_and_counts():
    ds1 = get_spectrum("calochallenge-1")
    assert [e * 1000.0 for e in ds1.points_gev] == DS1_MEV
    assert list(ds1.counts) == DS1_COUNTS
    assert ds1.total == 121_000 and ds1.discrete
    assert SimConfig(spectrum="calochallenge-1").total_events == 121_000


@pytest.mark.parametrize("name", ["calochallenge-2", "calochallenge-3"])
def test_datasets_2_and_3_are_log_uniform_from_1_gev_to_1_tev(name):
    spectrum = get_spectrum(name)
    assert not spectrum.discrete and spectrum.range_gev == (1.0, 1000.0) and spectrum.total == 100_000
    energies, _ = event_conditions(SimConfig(spectrum=name, n_events=4000, geometry=name))
    assert energies.shape == (4000,) and 1000.0 <= energies.min() and energies.max() <= 1e6
    # log-uniform: each decade holds a third of the showers
    decades = np.histogram(np.log10(energies / 1000.0), bins=[0, 1, 2, 3])[0] / 4000
    np.testing.assert_allclose(decades, 1 / 3, atol=0.03)


def test_every_built_in_spectrum_lies_within_the_simulators_energy_bounds():
    for spectrum in SPECTRA.values():
        lo, hi = spectrum.bounds_gev
        assert ENERGY_LIMITS_GEV[0] <= lo and hi <= ENERGY_LIMITS_GEV[1]
    assert get_spectrum("calochallenge-1").bounds_gev == (0.256, 4194.304)


def test_n_events_scales_the_counts_in_proportion_keeping_every_energy():
    assert list(get_spectrum("calochallenge-1", 1000).counts) == [83] * 11 + [41, 25, 17, 8]
    assert list(get_spectrum("calochallenge-1", 121_000).counts) == DS1_COUNTS
    assert list(get_spectrum("calochallenge-1", 1).counts) == [1] * 15  # at least one shower per energy
    assert list(get_spectrum("calochallenge-1", 242_000).counts) == [2 * c for c in DS1_COUNTS]
    assert get_spectrum("calochallenge-2", 500).total == 500
    assert SimConfig(spectrum="calochallenge-3", n_events=321).total_events == 321
    with pytest.raises(ConfigError, match="unknown spectrum 'calochallenge-4'; valid names: calochallenge-1"):
        get_spectrum("calochallenge-4")


def test_the_simulator_draws_each_energy_as_often_as_the_spectrum_says():
    config = SimConfig(spectrum="calochallenge-1", n_events=1000, geometry="calochallenge-1-photons", seed=4)
    energies, conditions = event_conditions(config)
    values, counts = np.unique(energies, return_counts=True)
    assert values.tolist() == DS1_MEV
    assert counts.tolist() == [83] * 11 + [41, 25, 17, 8]
    assert len(conditions["impact_eta"]) == len(energies) == config.total_events == 1004
    assert not np.all(np.diff(energies) >= 0)  # shuffled, like every simulated file

    data = simulate(spectrum="calochallenge-1", n_events=30, geometry="calochallenge-1-photons")
    assert sorted(set(data.incident_energies[:, 0].tolist())) == DS1_MEV and len(data) == 26
    assert data.attrs["sim_config"]["spectrum"] == "calochallenge-1"


def test_the_old_energy_settings_draw_exactly_as_before():
    """Moving the energy draw into the spectra must not change any existing data set."""
    config = SimConfig(energies_gev=[1.0, 65.0], events_per_energy=7, seed=3)
    rng = np.random.default_rng([3, 0])
    expected = np.repeat(np.array([1.0, 65.0]) * 1000.0, 7)
    expected = expected[rng.permutation(14)]
    np.testing.assert_array_equal(event_conditions(config)[0], expected)

    config = SimConfig(energy_range_gev=(1.0, 1000.0), n_events=9, seed=5)
    rng = np.random.default_rng([5, 0])
    expected = np.exp(rng.uniform(np.log(1.0), np.log(1000.0), size=9)) * 1000.0
    np.testing.assert_array_equal(event_conditions(config)[0], expected)
