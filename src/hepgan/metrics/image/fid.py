"""Frechet distance between Gaussian fits of LeNet features (FID, Heusel et al. 2017).

d^2 = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), the 2-Wasserstein distance between the two
Gaussians. Computed in float64 on the 128 penultimate LeNet activations (not Inception pool3), so
values are only comparable with other LeNet-FIDs at the same sample size: the estimate is biased
upward at small N. The train-vs-test FID of real MNIST is the floor to compare a generator with.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from hepgan.errors import DataError


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise DataError("features", f"expected a 2-D array (N >= 2, D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError("features", "contain NaN or infinite values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), float64.

    The cross term tr (S1 S2)^(1/2) uses scipy's ``sqrtm``; rounding leaves a small imaginary part
    on the root of a PSD product, which is dropped. When the root is unusable (non-finite, or an
    imaginary part above 1e-3 of its diagonal: S1 S2 is singular and defective, as with fewer
    samples than feature dimensions or dead ReLU features), the trace is taken instead from the
    eigenvalues of the symmetric S1^(1/2) S2 S1^(1/2), which has the same square-root trace and
    exists for every PSD pair. That is exact, unlike the common fix of adding eps to both
    diagonals, which shifts the result by O(sqrt(eps)) per dimension where only one covariance
    vanishes. Inputs that are not PSD are an error.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = len(mu1)
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise DataError("gaussians", f"shape mismatch: mu {mu1.shape}, {mu2.shape}; sigma {s1.shape}, {s2.shape}")
    for name, value in (("mu1", mu1), ("mu2", mu2), ("sigma1", s1), ("sigma2", s2)):
        if not np.isfinite(value).all():
            raise DataError(name, "contains NaN or infinite values")
    diff = mu1 - mu2
    trace_root = _trace_of_root(s1 @ s2)
    if trace_root is None:
        trace_root = _trace_of_root_symmetric(s1, s2)
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_root)
    rounding = 1e-9 * max(1.0, float(np.trace(s1) + np.trace(s2)))
    return 0.0 if -rounding < value < 0.0 else value  # identical inputs can round to -1e-13


def _trace_of_root(product: np.ndarray) -> float | None:
    """tr sqrtm(product), or None when the root is not usable."""
    with warnings.catch_warnings():  # singular products warn; usability is checked here instead
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(product)
    if not np.isfinite(root).all():
        return None
    if np.iscomplexobj(root):
        scale = max(1.0, float(np.abs(np.diag(root)).max()))
        if np.abs(root.imag).max() > 1e-3 * scale:
            return None
        root = root.real
    return float(np.trace(root))


def _trace_of_root_symmetric(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr (S1 S2)^(1/2) = tr (S1^(1/2) S2 S1^(1/2))^(1/2) via symmetric eigendecompositions."""
    for name, matrix in (("sigma1", s1), ("sigma2", s2)):
        w = np.linalg.eigvalsh(0.5 * (matrix + matrix.T))
        if w.min() < -1e-8 * max(1.0, float(np.abs(w).max())) or not np.allclose(matrix, matrix.T, atol=1e-8):
            raise DataError(name, "is not a covariance matrix (symmetric positive semi-definite)")
    w, v = np.linalg.eigh(0.5 * (s1 + s1.T))
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ s2 @ root1
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (inner + inner.T)), 0.0, None)).sum())


def frechet_distance_from_features(features_a, features_b) -> float:
    """Frechet distance between Gaussian fits of two feature sets (N, D) and (M, D)."""
    mu1, s1 = gaussian_stats(features_a)
    mu2, s2 = gaussian_stats(features_b)
    return frechet_distance(mu1, s1, mu2, s2)


def fid(images_a, images_b, classifier=None, batch_size: int = 1000,
        value_range: tuple[float, float] = (0.0, 255.0)) -> float:
    """FID between two image sets (0..255 by default) on penultimate LeNet features."""
    from hepgan.metrics.image.lenet import extract_features

    return frechet_distance_from_features(extract_features(images_a, classifier, batch_size, value_range),
                                          extract_features(images_b, classifier, batch_size, value_range))


__all__ = ["fid", "frechet_distance", "frechet_distance_from_features", "gaussian_stats"]
