"""The one-spot-at-a-time GFLASH check of the fast simulator."""

import math

import numpy as np
import pytest

from hepgan.geometry import get_geometry
from hepgan.sim import SimConfig
from hepgan.sim.simulate import event_conditions, simulate_block
from hepgan.sim.spot_by_spot import simulate_spots_block


@pytest.mark.parametrize("geometry", ["atlas266", "calochallenge-1-photons", "calogan"])
def test_closed_form_cells_agree_with_throwing_spots_one_by_one(geometry):
    config = SimConfig(geometry=geometry, energies_gev=[16.0], events_per_energy=600, sampling_term=0.0, constant_term=0.0)
    energies, conditions = event_conditions(config)
    fast, _ = simulate_block(config, energies, conditions, np.random.default_rng(1))
    slow = simulate_spots_block(config, energies, conditions, np.random.default_rng(2))
    n = len(energies)
    z = (fast.mean(0) - slow.mean(0)) / (np.sqrt(fast.var(0) / n + slow.var(0) / n) + 1e-6)
    assert np.mean(np.abs(z) > 3) < 0.01, np.sort(np.abs(z))[-5:]
    live = (fast.var(0) > 0) & (slow.var(0) > 0)
    ratio = fast.var(0)[live] / slow.var(0)[live]
    assert 0.85 < np.median(ratio) < 1.15


@pytest.mark.parametrize("geometry", ["calogan", "calochallenge-1-photons"])
def test_every_cell_holds_whole_spots_and_no_energy_is_created(geometry):
    energy_gev = 16.0
    config = SimConfig(geometry=geometry, particle="electron", energies_gev=[energy_gev], events_per_energy=100)
    energies, conditions = event_conditions(config)
    cells = simulate_spots_block(config, energies, conditions, np.random.default_rng(3))
    material = get_geometry(geometry).material
    # N = 10.3 ln(Z_eff) E^0.959 spots (GFLASH, sampling calorimeter), each of E / N
    n_spots = round(10.3 * math.log(material.z_eff) * energy_gev**0.959)
    quanta = cells / (1000.0 * energy_gev / n_spots)
    np.testing.assert_allclose(quanta, np.round(quanta), atol=1e-9)
    assert (cells >= 0).all() and np.round(quanta).sum(1).max() <= n_spots
    again = simulate_spots_block(config, energies, conditions, np.random.default_rng(3))
    np.testing.assert_array_equal(cells, again)


def test_the_31_x0_deep_calogan_block_contains_nearly_every_spot():
    # 480 mm x 480 mm x 31 X0: about 6.8 Moliere radii either side of the axis and ~15 X0 past the maximum
    config = SimConfig(geometry="calogan", energies_gev=[16.0], events_per_energy=60, seed=4)
    energies, conditions = event_conditions(config)
    cells = simulate_spots_block(config, energies, conditions, np.random.default_rng(5))
    containment = cells.sum(1) / energies
    assert containment.max() <= 1.0 + 1e-12 and np.median(containment) > 0.95
    # the shower maximum (~ln(E/E_c) ~ 7 X0 deep) lies in the 22 X0 thick layer 1, past the 5.8 X0 of layer 0
    layers = get_geometry("calogan").layer_energies(cells)
    assert (layers[:, 1] > layers[:, 0]).mean() > 0.9
