import numpy as np
import pytest

from hepgan.data.conditions import ConditionEncoder
from hepgan.errors import ConfigError, DataError


def test_energy_is_log_standardised_and_decodes_back():
    energies = np.array([1000.0, 8000.0, 65000.0, 262000.0])
    eta = np.array([0.2, 0.21, 0.24, 0.25])
    enc = ConditionEncoder(["energy", "impact_eta"]).fit({"energy": energies, "impact_eta": eta})
    x = enc.encode({"energy": energies, "impact_eta": eta})
    assert x.shape == (4, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0].mean(), 0, atol=1e-6)
    np.testing.assert_allclose(x[:, 0].std(), 1, atol=1e-5)
    ratios = np.diff(np.log(energies)) / np.diff(x[:, 0])
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-5)  # linear in ln E
    back = ConditionEncoder.from_dict(enc.to_dict()).decode(x)
    np.testing.assert_allclose(back["energy"], energies, rtol=1e-5)
    np.testing.assert_allclose(back["impact_eta"], eta, rtol=1e-5)


def test_labels_become_one_hot_and_categorical_codes_pass_through():
    enc = ConditionEncoder(n_classes=3)
    x = enc.encode(labels=np.array([2, 0, 1]))
    np.testing.assert_array_equal(x, np.eye(3)[[2, 0, 1]])
    assert list(enc.decode(x)["label"]) == [2, 0, 1]
    code = np.eye(2)[[0, 1, 1]]
    enc = ConditionEncoder(["alignment"]).fit({"alignment": code})
    assert enc.dim == 2
    np.testing.assert_array_equal(enc.encode({"alignment": code}), code)


def test_bad_conditions_are_reported():
    enc = ConditionEncoder(["energy"])
    with pytest.raises(ConfigError, match="call fit before encode"):
        enc.encode({"energy": np.ones(2)})
    with pytest.raises(DataError, match="must be positive to be log-scaled"):
        enc.fit({"energy": np.array([1.0, -1.0])})
    with pytest.raises(DataError, match="condition 'energy' is missing"):
        enc.fit({"eta": np.ones(2)})
    with pytest.raises(DataError, match="labels must be integers in 0..9"):
        ConditionEncoder(n_classes=10).encode(labels=np.array([3, 10]))
