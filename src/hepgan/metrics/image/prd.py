"""Precision and recall for distributions (PRD; Sajjadi et al. 2018, arXiv:1806.00035).

One number like FID cannot tell a generator that draws only a few digits perfectly (high
precision, low recall: mode dropping) from one that covers every digit badly (the reverse). PRD
separates the two. Both embedding sets are clustered together (k-means, 20 clusters) and compared
as histograms P (reference) and Q (generated) over the clusters; for slopes lambda = tan(theta),

    precision alpha(lambda) = sum_w min(lambda P(w), Q(w)),   recall beta(lambda) = alpha(lambda) / lambda,

traced over ``num_angles`` angles theta in (0, pi/2), and averaged over ``num_runs`` clusterings
with different seeds. Identical distributions give the full unit square (AUC 1, precision =
recall = 1 at theta = pi/4); disjoint ones give the zero curve. F_8 summarises recall (does the
model cover the reference?) and F_1/8 precision (is what it draws realistic?), each the maximum of
F_beta over the curve. The paper recommends >= 10k samples per set with equal counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import trapezoid

from hepgan.errors import DataError

EPSILON = 1e-10


@dataclass(frozen=True)
class PRDResult:
    """The averaged PRD curve and its summaries (``f_8`` ~ recall, ``f_1_8`` ~ precision)."""

    precision: np.ndarray
    recall: np.ndarray
    auc: float
    f_8: float
    f_1_8: float


def prd_curve(eval_dist, ref_dist, num_angles: int = 1001, epsilon: float = EPSILON) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) arrays of length ``num_angles`` for two histograms over the same bins
    (normalised here). Angle i is theta_i = linspace(epsilon, pi/2 - epsilon)[i]; the middle one
    (odd ``num_angles``) is the balanced angle pi/4 where precision = recall."""
    q, p = _distribution(eval_dist, "eval_dist"), _distribution(ref_dist, "ref_dist")
    if q.shape != p.shape:
        raise DataError("ref_dist", f"histograms over different bins: {q.shape} vs {p.shape}")
    if num_angles < 3:
        raise DataError("num_angles", f"need at least 3 angles, got {num_angles}")
    if not 0 < epsilon < 0.1:
        raise DataError("epsilon", f"must lie in (0, 0.1), got {epsilon}")
    slopes = np.tan(np.linspace(epsilon, np.pi / 2 - epsilon, num_angles))
    precision = np.minimum(slopes[:, None] * p[None, :], q[None, :]).sum(axis=1)
    recall = precision / slopes
    # both are <= 1 exactly; rounding can overshoot by an ulp or so
    return np.clip(precision, 0.0, 1.0), np.clip(recall, 0.0, 1.0)


def prd_auc(precision, recall) -> float:
    """Area under the PRD curve, precision integrated over recall (trapezoids); 1 for identical
    distributions, 0 for disjoint ones.

    Points are ordered along the curve by recall - precision, which falls monotonically with the
    angle (recall falls, precision rises), rather than by recall alone: rounding splits the many
    points at full recall of a good model into "1" and "1 - 1e-16", and sorting on those would cut
    the corner of the curve with a diagonal.
    """
    precision, recall = np.asarray(precision, np.float64), np.asarray(recall, np.float64)
    if precision.shape != recall.shape or precision.ndim != 1:
        raise DataError("precision", f"precision and recall must be 1-D and equally long: {precision.shape}, "
                                     f"{recall.shape}")
    order = np.argsort(recall - precision, kind="stable")
    return float(trapezoid(precision[order], recall[order]))


def f_beta(precision, recall, beta: float, epsilon: float = EPSILON) -> np.ndarray:
    """F_beta = (1 + beta^2) p r / (beta^2 p + r) pointwise along a curve; beta > 1 weighs recall."""
    precision, recall = np.asarray(precision, np.float64), np.asarray(recall, np.float64)
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall + epsilon)


def max_f_beta_pair(precision, recall, beta: float = 8.0) -> tuple[float, float]:
    """(max F_beta, max F_1/beta) over the curve: the paper's recall- and precision-like summaries."""
    return float(f_beta(precision, recall, beta).max()), float(f_beta(precision, recall, 1.0 / beta).max())


def kmeans(x, n_clusters: int, seed=0, n_init: int = 10, max_iter: int = 300,
           tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd's k-means on rows of ``x``: (labels (N,), centres (k, D), inertia).

    Seeding: ``n_init`` k-means++ seedings (Arthur & Vassilvitskii 2007) are drawn and the one
    with the lowest inertia is refined (like scikit-learn's MiniBatchKMeans picks its start);
    PRD's ``num_runs`` already average over clusterings, so one refinement per run is enough.
    An emptied cluster is re-seeded at the point farthest from its centre. Deterministic in ``seed``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if x.ndim != 2 or n == 0:
        raise DataError("x", f"expected a non-empty 2-D array (N, D), got shape {x.shape}")
    if not 1 <= n_clusters <= n:
        raise DataError("n_clusters", f"must lie between 1 and the number of points ({n}), got {n_clusters}")
    rng = np.random.default_rng(seed)
    sq = np.einsum("ij,ij->i", x, x)
    scale = max(float(np.var(x, axis=0).sum()), 1e-300)
    best = None
    for _ in range(max(1, n_init)):
        centres = _kmeans_plus_plus(x, sq, n_clusters, rng)
        d2, labels = _assign(x, sq, centres)
        inertia = float(d2.sum())
        if best is None or inertia < best[0]:
            best = (inertia, centres)
    centres, previous = best[1], None
    for _ in range(max_iter):
        d2, labels = _assign(x, sq, centres)
        if previous is not None and np.array_equal(labels, previous):
            break  # converged exactly: the centres would not move
        previous = labels
        counts = np.bincount(labels, minlength=n_clusters)
        new = np.zeros_like(centres)
        for c in np.flatnonzero(counts == 0):  # re-seed empty clusters at the worst-fitted point
            far = int(np.argmax(d2))
            new[c], counts[c], d2[far] = x[far], 1, 0.0
        one_hot = np.zeros((len(x), n_clusters))
        one_hot[np.arange(len(x)), labels] = 1.0
        new += one_hot.T @ x
        new /= counts[:, None]
        shift = float(((new - centres) ** 2).sum())
        centres = new
        if shift <= tol * scale:
            break
    d2, labels = _assign(x, sq, centres)
    return labels, centres, float(d2.sum())


def _assign(x: np.ndarray, sq: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d2 = sq[:, None] - 2.0 * x @ centres.T + np.einsum("ij,ij->i", centres, centres)[None, :]
    labels = d2.argmin(axis=1)
    return np.maximum(d2[np.arange(len(x)), labels], 0.0), labels


def _kmeans_plus_plus(x: np.ndarray, sq: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    n = len(x)
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    closest = np.maximum(sq - 2.0 * x @ centres[0] + centres[0] @ centres[0], 0.0)
    for c in range(1, k):
        total = closest.sum()
        index = int(rng.choice(n, p=closest / total)) if total > 0 else int(rng.integers(n))
        centres[c] = x[index]
        closest = np.minimum(closest, np.maximum(sq - 2.0 * x @ centres[c] + centres[c] @ centres[c], 0.0))
    return centres


def cluster_histograms(eval_data, ref_data, num_clusters: int = 20, seed=0,
                       n_init: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Cluster the union of two embedding sets; the normalised histogram of each over the clusters."""
    q, p = check_embeddings(eval_data, "eval_data"), check_embeddings(ref_data, "ref_data")
    if q.shape[1] != p.shape[1]:
        raise DataError("ref_data", f"embedding sizes differ: {q.shape[1]} vs {p.shape[1]}")
    labels, _, _ = kmeans(np.concatenate([q, p]), num_clusters, seed=seed, n_init=n_init)
    eval_hist = np.bincount(labels[: len(q)], minlength=num_clusters) / len(q)
    ref_hist = np.bincount(labels[len(q) :], minlength=num_clusters) / len(p)
    return eval_hist, ref_hist


def prd_from_embeddings(eval_data, ref_data, num_clusters: int = 20, num_angles: int = 1001,
                        num_runs: int = 10, seed: int = 0, enforce_balance: bool = True) -> PRDResult:
    """PRD of generated embeddings ``eval_data`` (N, D) against reference ``ref_data`` (M, D),
    averaged over ``num_runs`` clusterings seeded (seed, run). Equal set sizes are required unless
    ``enforce_balance=False``: the larger set would otherwise dominate the clustering."""
    q, p = check_embeddings(eval_data, "eval_data"), check_embeddings(ref_data, "ref_data")
    if enforce_balance and len(q) != len(p):
        raise DataError("eval_data", f"{len(q)} generated vs {len(p)} reference embeddings; PRD needs equal "
                                     "counts (or enforce_balance=False)")
    if num_runs < 1:
        raise DataError("num_runs", f"must be >= 1, got {num_runs}")
    precisions, recalls = [], []
    for run in range(num_runs):
        eval_hist, ref_hist = cluster_histograms(q, p, num_clusters, seed=[seed, run])
        precision, recall = prd_curve(eval_hist, ref_hist, num_angles)
        precisions.append(precision)
        recalls.append(recall)
    return summarise_prd(np.mean(precisions, axis=0), np.mean(recalls, axis=0))


def summarise_prd(precision, recall) -> PRDResult:
    """Wrap a PRD curve with its AUC and (F_8, F_1/8)."""
    precision, recall = np.asarray(precision, np.float64), np.asarray(recall, np.float64)
    f8, f1_8 = max_f_beta_pair(precision, recall, 8.0)
    return PRDResult(precision, recall, prd_auc(precision, recall), f8, f1_8)


def prd(images, reference_images, classifier=None, num_clusters: int = 20, num_angles: int = 1001,
        num_runs: int = 10, seed: int = 0, enforce_balance: bool = True, batch_size: int = 1000,
        value_range: tuple[float, float] = (0.0, 255.0)) -> PRDResult:
    """PRD of generated ``images`` against ``reference_images`` on penultimate LeNet features."""
    from hepgan.metrics.image.lenet import extract_features

    return prd_from_embeddings(extract_features(images, classifier, batch_size, value_range),
                               extract_features(reference_images, classifier, batch_size, value_range),
                               num_clusters, num_angles, num_runs, seed, enforce_balance)


def _distribution(values, name: str) -> np.ndarray:
    d = np.asarray(values, dtype=np.float64)
    if d.ndim != 1 or len(d) == 0:
        raise DataError(name, f"expected a 1-D histogram, got shape {d.shape}")
    if not np.isfinite(d).all() or (d < 0).any() or d.sum() <= 0:
        raise DataError(name, "histogram must be finite, non-negative and not all zero")
    return d / d.sum()


def check_embeddings(values, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise DataError(name, f"expected a non-empty 2-D array (N, D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError(name, "contains NaN or infinite values")
    return x


__all__ = [
    "PRDResult", "cluster_histograms", "f_beta", "kmeans", "max_f_beta_pair", "prd", "prd_auc", "prd_curve",
    "prd_from_embeddings", "summarise_prd",
]
