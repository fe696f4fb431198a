"""k-NN precision, recall, density and coverage (Naeem et al. 2020, arXiv:2002.09797).

Each real sample gets a ball reaching its k-th nearest real neighbour; together the balls
estimate the real manifold (the same for fake samples). Then

- precision: fraction of fake samples inside at least one real ball (realism),
- recall: fraction of real samples inside at least one fake ball (diversity),
- density: real balls containing each fake sample, averaged and divided by k (about 1 when the
  distributions match; unlike precision it is not fooled by real outliers with huge balls),
- coverage: fraction of real samples whose own ball contains at least one fake sample.

Membership is strict (distance < radius), as in the paper's code: with that convention a sample
set compared with itself has precision = recall = coverage = 1 and density exactly 1. Distances are
exact Euclidean (no approximate neighbours), in float64, computed in row blocks so memory stays
bounded; the real-vs-fake blocks are oriented like the real-vs-real ones so that identical sets give
bitwise identical distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hepgan.errors import DataError
from hepgan.metrics.image.prd import check_embeddings

MAX_BLOCK_ELEMENTS = 10_000_000  # 80 MB of float64 distances per block


@dataclass(frozen=True)
class PRDC:
    """The four k-NN scores; 1 each (density about 1) for a perfect generator, 0 for disjoint sets."""

    precision: float
    recall: float
    density: float
    coverage: float


def _as_tensor(values, name: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(check_embeddings(values, name)))


def _row_blocks(n_rows: int, n_cols: int, batch_size: int | None):
    step = batch_size or max(1, MAX_BLOCK_ELEMENTS // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def knn_radii(features, k: int = 5, batch_size: int | None = None) -> np.ndarray:
    """Distance of each row to its k-th nearest other row (the row itself excluded), (N,)."""
    x = _as_tensor(features, "features")
    return _radii(x, k, batch_size).numpy()


def _radii(x: torch.Tensor, k: int, batch_size: int | None) -> torch.Tensor:
    if not 1 <= k < len(x):
        raise DataError("k", f"must lie between 1 and N - 1 = {len(x) - 1}, got {k}")
    out = torch.empty(len(x), dtype=torch.float64)
    for rows in _row_blocks(len(x), len(x), batch_size):
        distances = torch.cdist(x[rows], x)
        out[rows] = torch.kthvalue(distances, k + 1, dim=1).values  # k + 1: the row itself is at 0
    return out


def prdc_from_embeddings(generated, reference, k: int = 5, batch_size: int | None = None) -> PRDC:
    """Precision, recall, density and coverage of generated embeddings (M, D) against reference
    ("real") ones (N, D). Generated first, like every hepgan metric (the paper's code has real first)."""
    fake, real = _as_tensor(generated, "generated"), _as_tensor(reference, "reference")
    if real.shape[1] != fake.shape[1]:
        raise DataError("generated", f"embedding sizes differ: {fake.shape[1]} vs reference {real.shape[1]}")
    real_radii = _radii(real, k, batch_size)
    fake_radii = _radii(fake, k, batch_size)
    fake_in_real_ball = torch.zeros(len(fake), dtype=torch.bool)
    real_in_fake_ball = torch.zeros(len(real), dtype=torch.bool)
    real_ball_covered = torch.zeros(len(real), dtype=torch.bool)
    balls_per_fake = 0
    for rows in _row_blocks(len(real), len(fake), batch_size):
        distances = torch.cdist(real[rows], fake)  # (block of reals, all fakes)
        inside_real = distances < real_radii[rows, None]
        fake_in_real_ball |= inside_real.any(dim=0)
        balls_per_fake += int(inside_real.sum())
        real_in_fake_ball[rows] = (distances < fake_radii[None, :]).any(dim=1)
        real_ball_covered[rows] = inside_real.any(dim=1)
    return PRDC(
        precision=float(fake_in_real_ball.double().mean()),
        recall=float(real_in_fake_ball.double().mean()),
        density=balls_per_fake / (k * len(fake)),
        coverage=float(real_ball_covered.double().mean()),
    )


def prdc(images, reference_images, classifier=None, k: int = 5, batch_size: int = 1000,
         value_range: tuple[float, float] = (0.0, 255.0)) -> PRDC:
    """PRDC of generated ``images`` against ``reference_images`` on penultimate LeNet features."""
    from hepgan.metrics.image.lenet import extract_features

    return prdc_from_embeddings(extract_features(images, classifier, batch_size, value_range),
                                extract_features(reference_images, classifier, batch_size, value_range), k)


__all__ = ["PRDC", "knn_radii", "prdc", "prdc_from_embeddings"]
