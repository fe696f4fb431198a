"""Physics checks of the reference simulator: the numbers a calorimeter physicist would look at."""

import numpy as np
import pytest
from scipy import stats

from hepgan.geometry import get_geometry
from hepgan.sim import SEED_ENERGIES_GEV, SimConfig, simulate, simulate_with_truth

ATLAS = get_geometry("atlas266")


def _depth_x0(geometry, showers):
    """Energy-weighted mean layer-centre depth in radiation lengths."""
    centres = np.array([0.5 * (a + b) for a, b in (layer.depth_x0 for layer in geometry.layers)])
    layers = geometry.layer_energies(showers.astype(np.float64))
    return (layers * centres).sum(1) / layers.sum(1)


@pytest.mark.parametrize("terms", [(0.10, 0.007), (0.20, 0.02)])
def test_energy_resolution_follows_the_configured_terms(terms):
    a, b = terms
    for energy in (1.0, 8.0, 65.0, 262.0):
        data, truth = simulate_with_truth(
            SimConfig(energies_gev=[energy], events_per_energy=4000, sampling_term=a, constant_term=b, seed=7)
        )
        response = data.showers.sum(1, dtype=np.float64) / truth.deposited_mev
        measured = response.std() / response.mean()
        expected = np.sqrt(a**2 / (truth.deposited_mev.mean() / 1000.0) + b**2)
        assert measured == pytest.approx(expected, rel=0.10), (energy, measured, expected)


def test_total_resolution_scales_like_a_sampling_calorimeter():
    widths = []
    for energy in (2.0, 8.0, 32.0):
        e_tot = simulate(energies_gev=[energy], events_per_energy=3000, seed=3).showers.sum(1, dtype=np.float64)
        widths.append(e_tot.std() / e_tot.mean())
    # roughly 1/sqrt(E) at low energy: quadrupling E about halves the width
    assert 1.6 < widths[0] / widths[1] < 2.4
    assert widths[1] > widths[2]


def test_mean_shower_depth_rises_linearly_with_log_energy():
    energies = np.array(SEED_ENERGIES_GEV)
    data = simulate(energies_gev=list(energies), events_per_energy=1500, seed=11)
    depth = _depth_x0(ATLAS, data.showers)
    e_inc = data.incident_energies[:, 0] / 1000.0
    means = np.array([np.nanmean(depth[np.isclose(e_inc, e)]) for e in energies])
    assert (np.diff(means) > 0).all(), means
    fit = stats.linregress(np.log(energies), means)
    assert fit.slope > 0.3 and fit.rvalue > 0.98, (fit.slope, fit.rvalue)


@pytest.mark.parametrize("energy", [4.0, 65.0])
def test_photons_shower_deeper_than_electrons(energy):
    photon = simulate(energies_gev=[energy], events_per_energy=2000, particle="photon", seed=5)
    electron = simulate(energies_gev=[energy], events_per_energy=2000, particle="electron", seed=5)
    gap = np.nanmean(_depth_x0(ATLAS, photon.showers)) - np.nanmean(_depth_x0(ATLAS, electron.showers))
    assert 0.3 < gap < 2.0  # about the 9/7 X0 conversion length, diluted by the coarse layers
    strips = ATLAS.layer_slices[1]
    assert photon.showers[:, strips].sum() < electron.showers[:, strips].sum()


def test_strip_width_and_middle_layer_ratios_are_physical():
    data = simulate(energies_gev=[65.0], events_per_energy=2000, seed=2)
    _, strips, middle, _ = ATLAS.split(data.showers.astype(np.float64))
    profile = strips.sum(-1)
    total = profile.sum(1)
    keep = total > 0
    x = np.arange(profile.shape[1])
    mean = (profile[keep] * x).sum(1) / total[keep]
    rms = np.sqrt((profile[keep] * (x - mean[:, None]) ** 2).sum(1) / total[keep])
    # ATLAS photons: total strip width of 1.5-3 strip pitches
    assert 1.0 < np.median(rms) < 3.0
    e33 = middle[:, 2:5, 2:5].sum((1, 2))
    e37 = middle[:, 2:5, :].sum((1, 2))
    e77 = middle.sum((1, 2))
    r_phi, r_eta = np.median(e33 / e37), np.median(e37 / e77)
    assert 0.90 < r_phi < 0.995 and 0.90 < r_eta < 0.995, (r_phi, r_eta)


def test_shower_centroid_follows_the_impact_point():
    data = simulate(energies_gev=[32.0], events_per_energy=2000, seed=4)
    eta = data.conditions["impact_eta"][:, 0]
    middle_layer = ATLAS.layers[2]
    edges, _ = ATLAS.window_edges(middle_layer, data.conditions, len(data))
    centres = 0.5 * (edges[:, 1:] + edges[:, :-1])
    profile = ATLAS.split(data.showers.astype(np.float64))[2].sum(-1)
    centroid = (profile * centres).sum(1) / profile.sum(1)
    assert np.corrcoef(centroid, eta)[0, 1] > 0.95
    assert abs(np.mean(centroid - eta)) < 0.05 * middle_layer.pitch[0]


def test_continuous_energy_range_is_log_uniform():
    data = simulate(energy_range_gev=(1.0, 100.0), n_events=4000, seed=1)
    log_e = np.log10(data.incident_energies[:, 0] / 1000.0)
    assert log_e.min() >= 0 and log_e.max() <= 2
    assert stats.kstest(log_e, stats.uniform(0, 2).cdf).pvalue > 1e-3


def test_layer_fractions_agree_with_real_geant4_calogan_showers(shared_data):
    """Each real shower's layer-0 fraction, placed in the simulated distribution at its energy,
    should look like a uniform draw (probability integral transform). The real file mixes
    positrons and photons without labels, so the simulation is an equal mix of the two."""
    from hepgan.data.calogan import read_calogan

    real = read_calogan(shared_data / "calogan" / "geant4_calogan_51events.h5")
    geometry = get_geometry("calogan")
    real_layers = geometry.layer_energies(real.showers)
    real_f0 = real_layers[:, 0] / real_layers.sum(1)
    pit = []
    for i, e_mev in enumerate(real.incident_energies[:, 0]):
        sims = [
            simulate(geometry="calogan", particle=p, energies_gev=[e_mev / 1000.0], events_per_energy=300,
                     sampling_term=0.0, constant_term=0.0, seed=100 + i)
            for p in ("photon", "positron")
        ]
        layers = np.concatenate([geometry.layer_energies(s.showers.astype(np.float64)) for s in sims])
        pit.append(np.mean(layers[:, 0] / layers.sum(1) < real_f0[i]))
    assert stats.kstest(pit, "uniform").pvalue > 0.01
    response_real = real_layers.sum(1) / real.incident_energies[:, 0]
    assert np.mean(response_real) == pytest.approx(0.996, abs=0.01)
