"""Real MNIST from ../shared/data for the image studies."""

import pytest

from hepgan.data.idx import read_mnist


@pytest.fixture(scope="session")
def mnist_test(shared_data):
    return read_mnist(shared_data / "mnist", "test")


@pytest.fixture(scope="session")
def mnist_train(shared_data):
    return read_mnist(shared_data / "mnist", "train")
