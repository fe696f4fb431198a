"""Fixtures shared by the calo family's tests."""

import pytest

from hepgan.data.hdf5 import read_showers


@pytest.fixture(scope="module")
def showers(shower_file):
    data = read_showers(shower_file)
    return data.showers / data.incident_energies, data.incident_energies[:, 0]
