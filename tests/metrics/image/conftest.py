"""Real MNIST (from ../shared/data) and the packaged LeNet's outputs on it, computed once."""

from __future__ import annotations

import pytest

from hepgan.data.idx import read_mnist
from hepgan.metrics.image import classify


@pytest.fixture(scope="session")
def mnist_test(shared_data):
    return read_mnist(shared_data / "mnist", "test")


@pytest.fixture(scope="session")
def mnist_train(shared_data):
    return read_mnist(shared_data / "mnist", "train")


@pytest.fixture(scope="session")
def mnist_test_outputs(mnist_test):
    """(probabilities (10000, 10), features (10000, 128)) of the real test set."""
    return classify(mnist_test.images)
