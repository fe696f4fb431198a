"""Charged-pion showers of the reference simulator against the published ATLAS barrel measurements
(hepgan.sim.testbeam) and against independent computations of their mean behaviour."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import gammainc

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.sim import SimConfig, simulate, simulate_with_truth
from hepgan.sim.config import HadronicParameters, load_sim_config
from hepgan.sim.testbeam import (
    EH_METHOD_RESOLUTION,
    compartment_energies,
    eh_reconstruction,
    fit_cryostat_weight,
    published_resolution,
)

PIONS = get_geometry("calochallenge-1-pions")
LAYOUT = PIONS.hadronic
TILE_FRONT = LAYOUT.front_lambda("hadronic")


def _pions(energy, n=3000, seed=1, **fields):
    return simulate_with_truth(SimConfig(geometry="calochallenge-1-pions", particle="pion+", energies_gev=[energy],
                                         events_per_energy=n, seed=seed, **fields))


def test_response_and_resolution_match_the_atlas_combined_test_within_10_percent():
    """The e/h reconstruction of the 1996 combined test, applied to simulated pions: mean within
    +-1 % of the beam energy there (10 % allowed here), sigma/E = 58 %/sqrt(E) + 2.5 % (noise term
    left out) within 10 % at every energy."""
    params = HadronicParameters()
    samples = []
    for energy in (10.0, 20.0, 50.0, 100.0, 300.0):
        data, _ = _pions(energy, seed=int(energy))
        parts = {k: v / 1000.0 for k, v in compartment_energies(PIONS, data.showers).items()}
        samples.append((energy, parts))
    alpha = fit_cryostat_weight(samples, params)
    assert 0.0 < alpha < 3.0
    for energy, parts in samples:
        ratio = eh_reconstruction(parts, params, alpha) / energy
        width = ratio.std() / ratio.mean()
        assert ratio.mean() == pytest.approx(1.0, abs=0.10), energy
        assert width == pytest.approx(published_resolution(energy, EH_METHOD_RESOLUTION), rel=0.10), energy
    # and the electron-scale response of a non-compensating calorimeter rises with energy
    raw = [np.mean(p["em"] + p["hadronic"]) / e for e, p in samples]
    assert np.all(np.diff(raw) > 0) and 0.6 < raw[0] < raw[-1] < 0.95, raw


def test_the_fraction_of_pions_starting_in_the_tile_calorimeter_is_exp_minus_the_depth_in_front():
    _, truth = _pions(50.0, n=6000, seed=3)
    data = simulate(SimConfig(geometry="calochallenge-1-pions", particle="pion+", energies_gev=[50.0],
                              events_per_energy=6000, seed=3))
    scale = PIONS.path_scale(data.conditions, len(data))
    late = truth.start_depth_lambda > TILE_FRONT * scale
    expected = np.mean(np.exp(-TILE_FRONT * scale))
    assert 1.85 < TILE_FRONT < 2.05  # lambda_I in front of the tile calorimeter at eta 0.225
    assert late.mean() == pytest.approx(expected, abs=3 * math.sqrt(expected * (1 - expected) / len(late)))
    # those pions leave only a track in the liquid argon: about 0.3 GeV seen at the electron scale
    em = compartment_energies(PIONS, data.showers)["em"]
    assert 200.0 < np.median(em[late]) < 500.0 and np.median(em[~late]) > 5000.0


def _expected_tile_fraction(energy_gev, params):
    """Mean share of the energy deposited in the tile layers, by integrating the longitudinal
    profile over the exponential start point (no sampling fluctuations, e/h = 1, track included)."""
    tile = [layer.depth_x0 for layer, c in zip(PIONS.layers, LAYOUT.layer_compartment)
            if LAYOUT.compartments[c].kind == "hadronic"]
    front_x0, back_x0 = tile[0][0], tile[-1][1]
    front_l, back_l = float(LAYOUT.to_lambda(front_x0)), float(LAYOUT.to_lambda(back_x0))
    tile_medium = LAYOUT.compartments[LAYOUT.layer_compartment[-1]].material
    e_hat = tile_medium.e_over_mip

    def visible_in_tile(z):
        e = energy_gev * 1000.0 - LAYOUT.mip_deposit_mev(z)
        g = min(e / 1000.0, params.profile_max_gev)
        a = params.profile_a[0] + params.profile_a[1] * math.log(g)
        w = min(max(params.profile_w[0] + params.profile_w[1] * math.log(g), 0.0), 1.0)
        x = w * (tile_medium.x0_mm / tile_medium.lambda_mm) / params.profile_b**a
        share = x / (x + (1 - w) / params.profile_d**a)
        zx = float(LAYOUT.to_x0(z))
        in_x = gammainc(a, params.profile_b * max(back_x0 - zx, 0)) - gammainc(a, params.profile_b * max(front_x0 - zx, 0))
        in_l = gammainc(a, params.profile_d * max(back_l - z, 0)) - gammainc(a, params.profile_d * max(front_l - z, 0))
        track = LAYOUT.mip_deposit_mev(min(z, back_l)) - LAYOUT.mip_deposit_mev(min(z, front_l))
        return (e * (share * in_x + (1 - share) * in_l) + track / e_hat) * math.exp(-z)

    value, _ = integrate.quad(visible_in_tile, 0.0, 30.0, points=[front_l, back_l], limit=200)
    return value / (energy_gev * 1000.0)


def test_mean_energy_in_the_tile_calorimeter_rises_with_energy_as_the_profile_says():
    params = HadronicParameters(em_fraction_sigma=0.0, e_over_h={"em": 1.0, "hadronic": 1.0})
    fractions = []
    for energy in (10.0, 50.0, 200.0):
        data, _ = _pions(energy, n=3000, seed=5, hadronic=params, sampling_term=0.0, constant_term=0.0)
        tile = compartment_energies(PIONS, data.showers)["hadronic"]
        measured = tile.mean() / (energy * 1000.0)
        expected = _expected_tile_fraction(energy, params)
        fractions.append(measured)
        assert measured == pytest.approx(expected, abs=0.02), energy
    assert fractions[0] < fractions[1] < fractions[2]
    assert 0.3 < fractions[0] and fractions[2] < 0.8


def test_e_over_pi_of_the_tile_calorimeter_follows_its_published_e_over_h():
    """Pions that start in the first interaction length of the tile calorimeter are measured by it
    alone: E_beam / <E_tile> should be (e/h) / (1 + (e/h - 1) <f_em>) with e/h = 1.362 (Budagov et
    al., 1999 Module-0 test beam), within 5 % (leakage and the track in front lower the response)."""
    params = HadronicParameters()
    for energy in (20.0, 100.0, 300.0):
        data, truth = _pions(energy, n=6000, seed=7)
        scale = PIONS.path_scale(data.conditions, len(data))
        early_in_tile = (truth.start_depth_lambda > TILE_FRONT * scale) & (truth.start_depth_lambda < (TILE_FRONT + 1) * scale)
        tile = compartment_energies(PIONS, data.showers)["hadronic"][early_in_tile] / 1000.0
        e_over_pi = energy / tile.mean()
        assert early_in_tile.sum() > 300
        assert e_over_pi == pytest.approx(float(params.e_over_pi("hadronic", energy)), rel=0.05), energy
        assert 1.05 < e_over_pi < 1.362


def test_pions_are_reproducible_chunk_independent_and_differ_from_photons():
    a = simulate(geometry="calochallenge-1-pions", particle="pion-", energies_gev=[8.0, 65.0], events_per_energy=1100,
                 seed=4, chunk_size=1024)
    b = simulate(geometry="calochallenge-1-pions", particle="pion-", energies_gev=[8.0, 65.0], events_per_energy=1100,
                 seed=4, chunk_size=100_000)
    np.testing.assert_array_equal(a.showers, b.showers)
    assert a.showers.shape == (2200, 533) and a.attrs["sim_config"]["particle"] == "pion-"
    photons = simulate(geometry="calochallenge-1-pions", particle="photon", energies_gev=[65.0], events_per_energy=500, seed=4)
    tile = slice(PIONS.layer_slices[4].start, None)
    def tile_share(showers):
        showers = showers.astype(np.float64)
        return np.mean(showers[:, tile].sum(1) / showers.sum(1))

    pions_65 = a.showers[a.incident_energies[:, 0] == 65000.0]
    assert tile_share(photons.showers) < 0.05 and tile_share(pions_65) > 0.3


def test_hadronic_parameters_stay_out_of_electromagnetic_dumps_and_pions_need_interaction_lengths():
    assert "hadronic" not in SimConfig().model_dump()
    assert SimConfig(geometry="calochallenge-1-pions", particle="pion+").model_dump()["hadronic"]["e_over_h"]["hadronic"] == 1.362
    with pytest.raises(ConfigError, match="needs a geometry with interaction lengths; 'calochallenge-2'"):
        load_sim_config(None, geometry="calochallenge-2", particle="pion+")
    with pytest.raises(ConfigError, match="compartment kind"):
        load_sim_config(None, geometry="calochallenge-1-pions", particle="pion+", hadronic={"e_over_h": {"em": 1.7}})


@pytest.mark.parametrize("energy", [0.256, 1.024, 65.536])
def test_no_cell_holds_a_sliver_of_energy(energy):
    """A track's deposit goes into the cell it crosses and sampling fluctuations are drawn per
    calorimeter with at most 100 % spread: no cell of a pion shower holds a keV-scale sliver
    (drawn per cell, half of all cells held less than 1 keV and some 1e-40 MeV)."""
    data, _ = _pions(energy, n=2000, seed=4)
    cells = data.showers[data.showers > 0]
    assert np.quantile(cells, 0.001) > 1e-3
    deposited = data.showers.sum(axis=1) / (energy * 1000.0)
    assert np.std(np.log(deposited[deposited > 0])) < 2.0


def test_track_deposits_follow_the_landau_width_of_their_active_medium():
    """Pions that start in the tile calorimeter cross the EM layers as tracks: each layer's deposit
    spreads with Moyal's interquartile range 2.568 xi around its mean and is skewed (median below
    the mean, 1 - 0.483 xi); with xi = 0 it would be a spike."""
    data, truth = _pions(65.536, n=4000, seed=3)
    late = truth.start_depth_lambda > TILE_FRONT + 0.3
    assert late.sum() > 300
    xi = HadronicParameters().track_landau_xi["em"]
    for layer in range(3):
        deposit = data.showers[late][:, PIONS.cell_layer == layer].sum(axis=1)
        q1, median, q3 = np.quantile(deposit, [0.25, 0.5, 0.75])
        assert (q3 - q1) / deposit.mean() == pytest.approx(2.568 * xi, rel=0.15), layer
        assert median / deposit.mean() == pytest.approx(1.0 - 0.483 * xi, abs=0.01), layer
