"""FPD and KPD: closed forms, brute-force kernels, and the behaviour of the estimators."""

import numpy as np
import pytest
from scipy import linalg

from hepgan.metrics.physics import distances
from hepgan.metrics.physics.distances import (
    fpd,
    frechet_distance,
    gaussian_fit,
    kpd,
    mmd_poly_unbiased,
)


def _random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_distance_equals_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    c1, c2 = _random_cov(rng, 6), _random_cov(rng, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-9)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2; diagonal covariances: the sum over axes
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1)
    d = frechet_distance(np.zeros(3), np.diag([1.0, 4, 9]), np.ones(3), np.diag([4.0, 4, 1]))
    assert d == pytest.approx(3 + (1 + 0 + 4))


def test_frechet_distance_is_batched_and_copes_with_singular_covariances():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3))
    x = np.c_[x, x[:, 0] + x[:, 1], np.zeros(500)]  # a redundant and a constant feature
    mu, cov = gaussian_fit(x)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-8)
    shifted = frechet_distance(mu, cov, mu + 0.5, cov)
    assert shifted == pytest.approx(5 * 0.25, rel=1e-6)
    batch = frechet_distance(np.stack([mu, mu]), np.stack([cov, cov]), np.stack([mu, mu + 0.5]), np.stack([cov, cov]))
    np.testing.assert_allclose(batch, [0.0, shifted], atol=1e-8)


def test_fpd_of_identical_and_independent_samples_is_zero_within_errors():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4000, 8))
    same = fpd(x, x)
    assert abs(same["value"]) < 3 * same["error"] + 1e-3
    other = fpd(x, rng.normal(size=(3000, 8)))
    assert abs(other["value"]) < 3 * other["error"]
    assert other["points"][0] > other["points"][-1] > 0  # the finite-size bias it removes shrinks with n


def test_fpd_of_shifted_samples_is_the_squared_shift():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6000, 5))
    y = rng.normal(size=(6000, 5))
    y[:, 0] += 0.4
    y[:, 1] *= 1.3  # width: (1.3 - 1)^2
    r = fpd(x, y)
    assert r["value"] == pytest.approx(0.16 + 0.09, abs=3 * r["error"])
    assert r["error"] < 0.03 and r["value"] > 5 * r["error"]


def _brute_mmd(x, y, degree):
    d = x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** degree for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean())


@pytest.mark.parametrize("degree", [2, 3, 4])
def test_unbiased_mmd_matches_the_kernel_matrices(degree, monkeypatch):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(120, 6)), rng.normal(0.3, 1.0, size=(90, 6))
    expected = _brute_mmd(x, y, degree)
    assert mmd_poly_unbiased(x, y, degree) == pytest.approx(expected, rel=1e-9)
    monkeypatch.setattr(distances, "MAX_TENSOR_ENTRIES", 0)  # force the kernel-block path
    monkeypatch.setattr(distances, "KERNEL_BLOCK_ROWS", 50)
    assert mmd_poly_unbiased(x, y, degree) == pytest.approx(expected, rel=1e-9)


def test_kpd_is_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20_000, 6))
    same = kpd(x, rng.normal(size=(20_000, 6)))
    assert abs(same["value"]) < 3 * same["error"]
    assert same["n_batches"] == 10 and same["batch_size"] == [2000, 2000]  # disjoint batches
    y = rng.normal(size=(20_000, 6))
    y[:, 0] *= 1.3
    diff = kpd(x, y)
    assert diff["value"] > 5 * diff["error"] > 0


def test_distances_reject_non_finite_or_mismatched_features():
    with pytest.raises(ValueError, match="finite"):
        fpd(np.full((100, 2), np.nan), np.zeros((100, 2)))
    with pytest.raises(ValueError, match="same d"):
        kpd(np.zeros((100, 2)), np.zeros((100, 3)))
