"""The high-level feature matrix: which observables, reference standardisation, NaN handling."""

import numpy as np
import pytest

from hepgan.metrics.physics.features import feature_names, standardised_features


def test_exact_re_expressions_are_left_out():
    obs = {name: np.zeros(3) for name in (
        "e_total", "response", "e_layer_a", "centroid_eta_a", "offset_eta_a", "width_eta_a", "width_eta_cells_a",
        "centroid_x_b", "width_x_b", "eratio")}
    assert feature_names(obs) == ["response", "e_layer_a", "offset_eta_a", "width_eta_a", "centroid_x_b", "width_x_b",
                                  "eratio"]


def test_standardised_with_the_reference_and_nan_replaced_with_indicators():
    ref = {"a": np.array([1.0, 3.0, np.nan, 5.0]), "b": np.array([2.0, 2.0, 2.0, 2.0])}
    gen = {"a": np.array([3.0, 7.0]), "b": np.array([np.nan, 4.0])}
    x_ref, x_gen, names = standardised_features(ref, gen, names=["a", "b"], indicators=True)
    assert names == ["a", "b", "a_is_nan", "b_is_nan"]
    # a: reference mean 3, sample std 2; b: constant, only centred
    np.testing.assert_allclose(x_ref, [[-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]])
    np.testing.assert_allclose(x_gen, [[0, 0, 0, 1], [2, 2, 0, 0]])
    plain_ref, _, plain_names = standardised_features(ref, gen, names=["a", "b"])
    assert plain_names == ["a", "b"] and plain_ref.shape == (4, 2) and np.isfinite(plain_ref).all()


def test_missing_observable_is_reported():
    with pytest.raises(KeyError, match="missing"):
        standardised_features({"a": np.zeros(2)}, {"b": np.zeros(2)}, names=["a"])
