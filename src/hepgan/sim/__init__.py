"""The reference shower simulator (GFLASH-style electromagnetic and charged-pion showers), standing in for Geant4."""

from hepgan.sim.config import SEED_ENERGIES_GEV, SimConfig, load_sim_config
from hepgan.sim.spectra import SPECTRA, Spectrum, get_spectrum
from hepgan.sim.simulate import (
    ShowerTruth,
    event_conditions,
    iter_simulation,
    simulate,
    simulate_with_truth,
)

__all__ = [
    "SEED_ENERGIES_GEV", "SPECTRA", "ShowerTruth", "SimConfig", "Spectrum", "event_conditions", "get_spectrum",
    "iter_simulation", "load_sim_config", "simulate", "simulate_with_truth",
]
