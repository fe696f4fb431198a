"""Shower sets shared by the physics-metric tests: two independent reference samples from the
simulator and one whose lateral profile is 20% wider, and their evaluations (computed once)."""

from __future__ import annotations

import pytest

from hepgan.metrics.physics import evaluate_showers
from hepgan.sim import SimConfig, simulate

ENERGIES_GEV = [4.0, 16.0, 65.0]
EVENTS_PER_ENERGY = 3000



def _simulate(seed: int, **overrides):
    return simulate(energies_gev=ENERGIES_GEV, events_per_energy=EVENTS_PER_ENERGY, seed=seed, **overrides)


@pytest.fixture(scope="session")
def reference_a():
    return _simulate(11)


@pytest.fixture(scope="session")
def reference_b():
    return _simulate(12)


@pytest.fixture(scope="session")
def widened():
    return _simulate(13, radial=SimConfig().radial.scaled(1.2))


@pytest.fixture(scope="session")
def ref_vs_ref(reference_a, reference_b):
    return evaluate_showers(reference_b, reference_a, seed=0, threads=1)


@pytest.fixture(scope="session")
def ref_vs_widened(reference_a, widened):
    return evaluate_showers(widened, reference_a, seed=0, threads=1)
