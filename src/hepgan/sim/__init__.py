"""The reference shower simulator (GFLASH-style electromagnetic showers), standing in for Geant4."""

from hepgan.sim.config import SEED_ENERGIES_GEV, SimConfig
from hepgan.sim.simulate import (
    ShowerTruth,
    event_conditions,
    iter_simulation,
    simulate,
    simulate_with_truth,
)

__all__ = [
    "SEED_ENERGIES_GEV", "ShowerTruth", "SimConfig", "event_conditions", "iter_simulation", "simulate",
    "simulate_with_truth",
]
