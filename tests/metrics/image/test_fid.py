"""Frechet distance: identical, shifted and diagonal Gaussians in closed form, and a general case
against an independent eigen-decomposition formula."""

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.metrics.image import fid, frechet_distance, frechet_distance_from_features, gaussian_stats


def random_spd(d, seed):
    a = np.random.default_rng(seed).normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def sym_sqrt(m):
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def fd_eigh(mu1, s1, mu2, s2):
    """tr (S1 S2)^(1/2) = tr (S1^(1/2) S2 S1^(1/2))^(1/2): symmetric PSD, eigenvalues only."""
    r = sym_sqrt(s1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


def test_identical_gaussians_are_at_distance_zero():
    mu, s = np.arange(16.0), random_spd(16, 0)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)


def test_unit_covariances_give_squared_mean_difference():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
    eye = np.eye(12)
    assert frechet_distance(mu1, eye, mu2, eye) == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-10)


def test_diagonal_covariances_match_the_closed_form():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.1, 4.0, 20), rng.uniform(0.1, 4.0, 20)
    mu1, mu2 = rng.normal(size=20), rng.normal(size=20)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_general_covariances_match_an_independent_formula_and_are_symmetric():
    rng = np.random.default_rng(3)
    mu1, mu2, s1, s2 = rng.normal(size=8), rng.normal(size=8), random_spd(8, 4), random_spd(8, 5)
    value = frechet_distance(mu1, s1, mu2, s2)
    assert value == pytest.approx(fd_eigh(mu1, s1, mu2, s2), rel=1e-9)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(value, rel=1e-9)


def test_singular_covariances_stay_finite_and_close_to_the_closed_form():
    a, b = np.array([1.0, 2.0, 0.0, 0.0]), np.array([0.0, 3.0, 1.0, 0.0])
    mu = np.zeros(4)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu, np.diag(a), mu, np.diag(b)) == pytest.approx(expected, abs=1e-4)


def test_fewer_samples_than_dimensions_with_dead_features_is_exact():
    """Rank-deficient covariances with shared and unshared null spaces (ReLU features that never
    fire, 30 samples in 64 dimensions): S1 S2 is defective, sqrtm fails, the result stays exact."""
    rng = np.random.default_rng(7)
    a, b = np.maximum(rng.normal(size=(30, 64)), 0), np.maximum(rng.normal(size=(30, 64)), 0)
    a[:, :20] = 0.0  # dead in both
    b[:, 20:30] = 0.0  # dead in one
    mu1, s1 = gaussian_stats(a)
    mu2, s2 = gaussian_stats(b)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(fd_eigh(mu1, s1, mu2, s2), rel=1e-9)


def test_feature_sets_from_known_gaussians_approach_the_analytic_distance():
    rng = np.random.default_rng(6)
    a = rng.normal(0.0, 1.0, size=(40000, 3))
    b = rng.normal(1.0, 2.0, size=(40000, 3))
    expected = 3 * 1.0**2 + 3 * (1.0 - 2.0) ** 2
    assert frechet_distance_from_features(a, b) == pytest.approx(expected, rel=0.03)
    mu, s = gaussian_stats(a)
    assert mu.shape == (3,) and s.shape == (3, 3)
    np.testing.assert_allclose(s, np.cov(a.T), rtol=1e-12)


def test_bad_input_is_a_data_error():
    with pytest.raises(DataError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(DataError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(DataError, match="positive semi-definite"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), -np.eye(2))
    with pytest.raises(DataError):
        gaussian_stats(np.zeros((1, 4)))


def test_train_vs_test_fid_is_small_and_a_single_digit_is_far(mnist_train, mnist_test, mnist_test_outputs):
    from hepgan.metrics.image import extract_features

    features_test = mnist_test_outputs[1]
    train = extract_features(mnist_train.images[np.random.default_rng(0).choice(60000, 5000, replace=False)])
    real = frechet_distance_from_features(train, features_test)
    ones = frechet_distance_from_features(features_test[mnist_test.labels == 1], features_test)
    assert real < 5.0  # 1.7 at 10k vs 10k
    assert ones > 100 * real
    # the image-level convenience is the same computation
    assert fid(mnist_test.images[:300], mnist_test.images[300:600]) == pytest.approx(
        frechet_distance_from_features(features_test[:300], features_test[300:600]), rel=1e-6)
