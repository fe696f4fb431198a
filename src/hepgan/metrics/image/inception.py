"""Inception Score (Salimans et al. 2016) with the LeNet in place of Inception-v3.

IS = exp(E_x KL(p(y|x) || p(y))): high when each image is classified confidently (low entropy of
p(y|x)) and the classes are spread evenly (high entropy of the marginal p(y)). For a classifier
with one-hot outputs it is exp(H(class frequencies)): k for k equally frequent classes, 1 for a
generator that collapsed onto one class; 10 is the ceiling on MNIST.

Split dependence (as the MNIST GAN coursework studies document: 7.93 / 7.86 / 7.04 at 1 / 10 / 200 splits): the images
are cut into ``n_splits`` consecutive chunks; each chunk estimates its own p(y) and its own score,
and the mean and std over chunks are reported. Smaller chunks estimate the marginal from fewer
images, so its entropy is biased low and the score drops as ``n_splits`` grows, down to exactly
1 at one image per chunk. Only scores with the same ``n_splits`` and sample size are comparable.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import rel_entr

from hepgan.errors import DataError


class Score(NamedTuple):
    """Mean and (population) standard deviation of a score over splits."""

    mean: float
    std: float


def inception_score_from_probs(probs, n_splits: int = 10) -> Score:
    """IS from class probabilities p(y|x), shape (N, C); rows are renormalised to sum to 1.

    Chunk i is rows [i*N//n_splits, (i+1)*N//n_splits) in the given order (shuffle beforehand if
    the order is sorted by class). Computed in float64; 0*log 0 counts as 0.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise DataError("probs", f"expected a 2-D array (N, n_classes), got shape {p.shape}")
    n = len(p)
    if not 1 <= n_splits <= n:
        raise DataError("n_splits", f"must be between 1 and the number of samples ({n}), got {n_splits}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise DataError("probs", "must be finite and non-negative")
    sums = p.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise DataError("probs", "every row needs a positive sum")
    p = p / sums
    scores = np.empty(n_splits)
    for i in range(n_splits):
        chunk = p[i * n // n_splits : (i + 1) * n // n_splits]
        marginal = chunk.mean(axis=0, keepdims=True)
        kl = rel_entr(chunk, marginal).sum(axis=1)  # KL(p(y|x) || p(y)) per image
        scores[i] = np.exp(kl.mean())
    return Score(float(scores.mean()), float(scores.std()))


def inception_score(images, classifier=None, n_splits: int = 10, batch_size: int = 1000,
                    value_range: tuple[float, float] = (0.0, 255.0)) -> Score:
    """IS of images (0..255 by default, see :mod:`hepgan.metrics.image.lenet`) under the packaged
    LeNet, or under ``classifier`` (a LeNet-like module with ``features`` and ``head``)."""
    from hepgan.metrics.image.lenet import predict_proba

    return inception_score_from_probs(predict_proba(images, classifier, batch_size, value_range), n_splits)


__all__ = ["Score", "inception_score", "inception_score_from_probs"]
