"""Pipelines: chained fitting, round trips, dtype handling, serialisation of a fitted pipeline, stage errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepgan.data.transforms import (
    EnergyNormalize,
    LayerFractions,
    LogitTransform,
    LogTransform,
    Pipeline,
    Standardize,
    transform_from_dict,
    transforms_from_json,
    transforms_to_json,
)
from tests.data.transforms._helpers import (
    GEOMETRIES,
    _assert_plain_json,
    _expect_data_error,
    assert_round_trip,
    make_showers,
)

# Any numpy overflow/invalid warning inside a transform is a bug, not noise.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize(
    "stages",
    [
        lambda g: [EnergyNormalize(), LogTransform(eps=1e-8), Standardize()],
        lambda g: [LayerFractions(g), LogitTransform(), Standardize()],
        lambda g: [LayerFractions(g), LogTransform(), Standardize()],
    ],
    ids=["norm-log-std", "fractions-logit-std", "fractions-log-std"],
)
def test_pipeline_round_trip(geometry, stages):
    showers, energies = make_showers(geometry, seed=1)
    pipe = Pipeline(stages(geometry)).fit(showers, energies)
    y = pipe.forward(showers, energies)
    assert np.isfinite(y).all()
    # The last stage was fitted on the previous stages' output: the model space is standardised.
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-6)
    back = pipe.inverse(y, energies)
    assert_round_trip(back, showers)
    # Empty cells come back exactly empty (the hit-cell fraction is a physics observable).
    np.testing.assert_array_equal(back == 0, showers == 0)
    # Energies given as (N,) behave like (N, 1).
    np.testing.assert_array_equal(pipe.forward(showers, energies[:, 0]), y)


def test_pipeline_fits_each_stage_on_previous_output():
    showers, energies = make_showers("atlas266", seed=2)
    pipe = Pipeline([EnergyNormalize(), LogTransform(), Standardize()]).fit(showers, energies)
    expected = np.log(showers / energies + 1e-6)
    np.testing.assert_allclose(pipe.stages[2].mean, expected.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pipe.stages[2].std, np.maximum(expected.std(axis=0), 1e-8), rtol=1e-12)


def test_empty_pipeline_is_identity():
    showers, energies = make_showers("atlas266", n=5)
    pipe = Pipeline([])
    np.testing.assert_array_equal(pipe.forward(showers), showers)
    np.testing.assert_array_equal(pipe.inverse(showers, energies), showers)


def test_float32_input_gives_float64_and_input_is_untouched():
    showers, energies = make_showers("calogan", n=20)
    x32 = showers.astype(np.float32)
    copy = x32.copy()
    pipe = Pipeline([LayerFractions("calogan"), LogitTransform(), Standardize()]).fit(x32, energies)
    y = pipe.forward(x32, energies)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(x32, copy)
    y_copy = y.copy()
    back = pipe.inverse(y, energies)
    np.testing.assert_array_equal(y, y_copy)
    assert_round_trip(back, x32.astype(np.float64))


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_fitted_pipeline_serialisation_round_trip(geometry):
    showers, energies = make_showers(geometry, seed=3)
    pipe = Pipeline([LayerFractions(geometry), LogitTransform(alpha=3e-6), Standardize(min_std=1e-7)])
    pipe.fit(showers, energies)
    d = pipe.to_dict()
    _assert_plain_json(d)
    assert d["type"] == "Pipeline"
    assert [s["type"] for s in d["stages"]] == ["LayerFractions", "LogitTransform", "Standardize"]
    assert d["stages"][0]["geometry"] == geometry
    assert len(d["stages"][2]["mean"]) == len(d["stages"][2]["std"]) == pipe.output_dim

    loaded = transforms_from_json(transforms_to_json(pipe))
    assert isinstance(loaded, Pipeline)
    assert loaded.to_dict() == d
    y = pipe.forward(showers, energies)
    np.testing.assert_array_equal(loaded.forward(showers, energies), y)
    # Decoding arbitrary model output (what a generator emits) is identical too.
    z = np.random.default_rng(4).normal(size=y.shape)
    np.testing.assert_array_equal(loaded.inverse(z, energies), pipe.inverse(z, energies))
    np.testing.assert_array_equal(transform_from_dict(json.loads(json.dumps(d))).forward(showers, energies), y)


def test_pipeline_reports_the_failing_stage():
    pipe = Pipeline([EnergyNormalize(), LogitTransform()])
    x = np.full((2, 3), 10.0)  # normalised by E=1 it is outside [0, 1]
    _expect_data_error(lambda: pipe.forward(x, np.ones(2)), "outside", "LogitTransform")
