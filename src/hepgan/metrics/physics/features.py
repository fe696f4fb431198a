"""High-level feature matrices: which observables the multivariate tests see, and how scaled.

FPD, KPD and the high-level classifier work on one matrix of observables per sample. Exact
re-expressions of other observables are left out (``e_total`` = the sum of the layer energies,
widths in cell pitches = widths / pitch, absolute centroids when their offsets from the impact
point are there), so no direction is counted twice. Columns are standardised with the
*reference* mean and standard deviation (a constant reference column is only centred), and NaN
(an observable undefined for a shower, e.g. the width of an empty layer) becomes 0 — the
reference mean — with, on request, an indicator column that is 1 where the value was NaN.
"""

from __future__ import annotations

import re

import numpy as np

_CELLS_WIDTH = re.compile(r"^width_[a-z]+_cells_")


def feature_names(observables: dict[str, np.ndarray]) -> list[str]:
    """Observable names for the multivariate tests, in the observables' order."""
    names = []
    for name in observables:
        if name == "e_total" or _CELLS_WIDTH.match(name):
            continue
        if name.startswith("centroid_") and "offset_" + name.removeprefix("centroid_") in observables:
            continue
        names.append(name)
    return names


def standardised_features(
    reference: dict[str, np.ndarray],
    generated: dict[str, np.ndarray],
    names: list[str] | None = None,
    indicators: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(reference matrix, generated matrix, column names), float64, finite.

    ``indicators`` appends a ``<name>_is_nan`` column for every feature that is NaN somewhere in
    either sample.
    """
    names = feature_names(reference) if names is None else list(names)
    missing = [n for n in names if n not in reference or n not in generated]
    if missing:
        raise KeyError(f"observables missing from one of the samples: {missing}")
    ref = np.stack([np.asarray(reference[n], np.float64) for n in names], axis=1)
    gen = np.stack([np.asarray(generated[n], np.float64) for n in names], axis=1)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(ref)
        count = finite.sum(axis=0)
        mean = np.where(count > 0, np.where(finite, ref, 0.0).sum(axis=0) / np.maximum(count, 1), 0.0)
        dev = np.where(finite, ref - mean, 0.0)
        std = np.sqrt((dev * dev).sum(axis=0) / np.maximum(count - 1, 1))
    scale = np.where(std > 0, std, 1.0)
    columns = list(names)
    out = []
    for x in (ref, gen):
        z = (x - mean) / scale
        bad = ~np.isfinite(z)
        out.append((np.where(bad, 0.0, z), bad))
    if indicators:
        flagged = np.flatnonzero(out[0][1].any(axis=0) | out[1][1].any(axis=0))
        columns += [f"{names[i]}_is_nan" for i in flagged]
        out = [(np.concatenate([z, bad[:, flagged].astype(np.float64)], axis=1), bad) for z, bad in out]
    return out[0][0], out[1][0], columns


__all__ = ["feature_names", "standardised_features"]
