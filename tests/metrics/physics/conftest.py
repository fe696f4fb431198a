"""The evaluations shared by the physics-metric tests (computed once), of the shower sets in
tests/conftest.py."""

from __future__ import annotations

import pytest

from hepgan.metrics.physics import evaluate_showers


@pytest.fixture(scope="session")
def ref_vs_ref(reference_a, reference_b):
    return evaluate_showers(reference_b, reference_a, seed=0, threads=1)


@pytest.fixture(scope="session")
def ref_vs_widened(reference_a, widened):
    return evaluate_showers(widened, reference_a, seed=0, threads=1)
