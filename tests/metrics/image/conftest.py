"""The packaged LeNet's outputs on the real MNIST test set (tests/conftest.py), computed once."""

from __future__ import annotations

import pytest

from hepgan.metrics.image import classify


@pytest.fixture(scope="session")
def mnist_test_outputs(mnist_test):
    """(probabilities (10000, 10), features (10000, 128)) of the real test set."""
    return classify(mnist_test.images)
