"""Shared fixtures: the read-only reference data next to the project checkout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepgan.data.hdf5 import write_showers
from hepgan.data.idx import read_mnist, write_idx
from hepgan.sim import SimConfig, simulate

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared/data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` relative to the repo root; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not present: {SHARED_DATA} does not exist")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_test(shared_data):
    """The real MNIST test set (skips without ../shared/data)."""
    return read_mnist(shared_data / "mnist", "test")


@pytest.fixture(scope="session")
def mnist_train(shared_data):
    """The real MNIST training set (skips without ../shared/data)."""
    return read_mnist(shared_data / "mnist", "train")


@pytest.fixture(scope="session")
def shower_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("showers") / "atlas.h5"
    write_showers(path, simulate(energies_gev=[2.0, 8.0, 32.0], events_per_energy=120, seed=3))
    return path


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """A 300-image MNIST look-alike in IDX format: blobs whose position encodes the class."""
    directory = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300).astype(np.uint8)
    images = np.zeros((300, 28, 28), np.uint8)
    for i, label in enumerate(labels):
        r, c = 4 + 2 * (label // 5) * 5, 3 + 5 * (label % 5)
        images[i, r : r + 6, c : c + 4] = 200 + rng.integers(0, 55)
    write_idx(directory / "train-images-idx3-ubyte", images)
    write_idx(directory / "train-labels-idx1-ubyte", labels)
    return directory


# Two independent reference samples from the simulator and one whose lateral profile is 20 % wider,
# shared by the physics metrics' tests and the trainer's validation metrics' tests.
PHYSICS_ENERGIES_GEV = [4.0, 16.0, 65.0]
PHYSICS_EVENTS_PER_ENERGY = 3000


def _simulate(seed: int, **overrides):
    return simulate(energies_gev=PHYSICS_ENERGIES_GEV, events_per_energy=PHYSICS_EVENTS_PER_ENERGY, seed=seed,
                    **overrides)


@pytest.fixture(scope="session")
def reference_a():
    return _simulate(11)


@pytest.fixture(scope="session")
def reference_b():
    return _simulate(12)


@pytest.fixture(scope="session")
def widened():
    return _simulate(13, radial=SimConfig().radial.scaled(1.2))
