"""Transform base: the registry, serialised descriptions, bad descriptions and JSON, the abstract interface."""

from __future__ import annotations

import numpy as np
import pytest

from hepgan.data.transforms import (
    EnergyNormalize,
    LayerFractions,
    LogitTransform,
    LogTransform,
    Standardize,
    Transform,
    list_transforms,
    transform_from_dict,
    transforms_from_json,
    transforms_to_json,
)
from hepgan.errors import ConfigError
from tests.data.transforms._helpers import _assert_plain_json

# Any numpy overflow/invalid warning inside a transform is a bug, not noise.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.mark.parametrize(
    "t",
    [EnergyNormalize(scale=2.5), LogTransform(eps=1e-3), LogitTransform(alpha=0.01), LayerFractions("calogan"), Standardize()],
    ids=lambda t: t.type_name,
)
def test_each_transform_serialises(t):
    d = t.to_dict()
    _assert_plain_json(d)
    assert d["type"] == type(t).__name__
    loaded = transforms_from_json(transforms_to_json(t))
    assert type(loaded) is type(t) and loaded.to_dict() == d


def test_unfitted_standardize_stays_unfitted_after_loading():
    loaded = transforms_from_json(transforms_to_json(Standardize()))
    assert not loaded.fitted
    with pytest.raises(ConfigError, match="call fit first"):
        loaded.forward(np.zeros((2, 3)))


def test_registry_lists_all_transforms():
    assert set(list_transforms()) >= {
        "EnergyNormalize", "LayerFractions", "LogTransform", "LogitTransform", "Pipeline", "Standardize",
    }


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"type": "Whiten"}, "unknown transform 'Whiten'; valid names: EnergyNormalize"),
        ({"eps": 1e-6}, "needs a 'type' key"),
        ([1, 2], "must be a dict"),
        ({"type": "LogTransform", "epsilon": 1e-6}, "LogTransform: bad description"),
        ({"type": "LayerFractions"}, "LayerFractions: bad description"),
        ({"type": "LogTransform", "eps": -1.0}, "eps must be a finite number > 0"),
        ({"type": "Standardize", "min_std": 1e-8, "mean": [0.0, 1.0], "std": [1.0]}, "one length"),
        ({"type": "Standardize", "min_std": 1e-8, "mean": [0.0], "std": [0.0]}, "std > 0"),
        ({"type": "Standardize", "min_std": 1e-8, "mean": ["a"], "std": [1.0]}, "lists of numbers"),
        ({"type": "Pipeline", "stages": {"type": "LogTransform"}}, "'stages' must be a list"),
        ({"type": "Pipeline", "stages": [{"type": "Nope"}]}, "unknown transform 'Nope'"),
        ({"type": "Pipeline", "stages": [], "extra": 1}, "unexpected keys"),
    ],
)
def test_bad_descriptions_raise_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        transform_from_dict(bad)


def test_bad_json_raises_config_error():
    with pytest.raises(ConfigError, match="not valid JSON"):
        transforms_from_json("{not json")
    with pytest.raises(ConfigError, match="expected a Transform"):
        transforms_to_json({"type": "LogTransform"})


def test_transform_is_abstract():
    with pytest.raises(NotImplementedError):
        Transform().forward(np.ones((1, 1)))
