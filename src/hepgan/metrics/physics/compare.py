"""Two-sample comparison of one observable: separation power, chi2/ndf, KS and Wasserstein.

Binned statistics use one binning for both samples, chosen from the reference alone so a
generated sample cannot move the goal posts:

- ``"quantile"`` (default): interior edges at the reference's 1/n, 2/n, ... quantiles, so every
  reference bin holds about the same number of showers (robust against long tails, and every
  bin has statistics); repeated edges (a spike, e.g. Eratio = 1) are merged.
- ``"range"``: n equal-width bins between the reference's minimum and maximum.

In both, the first and last bins are open-ended, so generated values beyond the reference
range are counted (they are a difference, not something to drop). NaN values are dropped from
each sample before anything is computed, and how many were dropped is reported; an observable
defined in only one of the samples has separation power 1 (disjoint) and no other statistics.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

BINNINGS = ("quantile", "range")
KS_EXACT_MAX = 1000  # larger samples get the asymptotic KS p-value (the exact one costs ~n1 n2)


def reference_edges(reference: np.ndarray, n_bins: int = 50, method: str = "quantile") -> np.ndarray:
    """Interior bin edges from the (finite) reference values; bins are [e_i, e_i+1), open at both ends."""
    if method not in BINNINGS:
        raise ValueError(f"unknown binning {method!r}; valid: {', '.join(BINNINGS)}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    ref = np.asarray(reference, np.float64)
    if ref.size == 0:
        return np.zeros(0)
    if method == "quantile":
        edges = np.quantile(ref, np.arange(1, n_bins) / n_bins)
    else:
        edges = np.linspace(ref.min(), ref.max(), n_bins + 1)[1:-1]
    return np.unique(edges)


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in the len(edges) + 1 bins (-inf, e_0), [e_0, e_1), ..., [e_last, inf)."""
    index = np.searchsorted(edges, np.asarray(values, np.float64), side="right")
    return np.bincount(index, minlength=len(edges) + 1).astype(np.float64)


def separation_power(counts_p: np.ndarray, counts_q: np.ndarray) -> float:
    """Triangular discrimination 0.5 * sum (p - q)^2 / (p + q) of the normalised histograms.

    0 for identical shapes, 1 for disjoint ones (the 2022 CaloChallenge's separation power).
    """
    p = np.asarray(counts_p, np.float64)
    q = np.asarray(counts_q, np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    s = p + q
    ok = s > 0
    return float(0.5 * np.sum((p[ok] - q[ok]) ** 2 / s[ok]))


def separation_power_floor(n_bins: int, n_p: int, n_q: int) -> float:
    """Expected separation power of two samples of one distribution, from counting noise alone.

    For k populated bins, E[0.5 sum (p - q)^2 / (p + q)] ~ (k - 1) (1/n_p + 1/n_q) / 4: the value
    below which a difference cannot be resolved with these sample sizes.
    """
    if n_p <= 0 or n_q <= 0:
        return float("nan")
    return 0.25 * max(n_bins - 1, 0) * (1.0 / n_p + 1.0 / n_q)


def chi2_two_sample(w1: np.ndarray, w2: np.ndarray, w1_sq: np.ndarray | None = None,
                    w2_sq: np.ndarray | None = None) -> tuple[float, int]:
    """Two-sample chi2 of histograms with per-bin sums of weights and of squared weights.

    chi2 = sum_i (W1_i / W1 - W2_i / W2)^2 / (S1_i / W1^2 + S2_i / W2^2) over bins that hold
    anything, ndf = (those bins) - 1: the normalised difference over its variance. For unweighted
    counts S = W; with equal totals it is Pearson's chi2 of the 2 x k contingency table.
    """
    w1, w2 = np.asarray(w1, np.float64), np.asarray(w2, np.float64)
    s1 = w1 if w1_sq is None else np.asarray(w1_sq, np.float64)
    s2 = w2 if w2_sq is None else np.asarray(w2_sq, np.float64)
    t1, t2 = w1.sum(), w2.sum()
    if t1 <= 0 or t2 <= 0:
        return float("nan"), 0
    var = s1 / t1**2 + s2 / t2**2
    ok = var > 0
    chi2 = float(np.sum((w1[ok] / t1 - w2[ok] / t2) ** 2 / var[ok]))
    return chi2, int(ok.sum()) - 1


def compare_samples(reference: np.ndarray, generated: np.ndarray, n_bins: int = 50,
                    binning: str = "quantile") -> dict:
    """Every two-sample statistic of one observable, as a flat dict of plain floats and ints.

    ``wasserstein_scaled`` is W1 over the reference standard deviation (comparable across
    observables); ``separation_power_floor`` is the counting-noise level of separation power.
    """
    ref = np.asarray(reference, np.float64).ravel()
    gen = np.asarray(generated, np.float64).ravel()
    ref_ok, gen_ok = ref[~np.isnan(ref)], gen[~np.isnan(gen)]
    out = {
        "n_reference": int(ref_ok.size),
        "n_generated": int(gen_ok.size),
        "nan_reference": int(ref.size - ref_ok.size),
        "nan_generated": int(gen.size - gen_ok.size),
    }
    nan = float("nan")
    if ref_ok.size == 0 or gen_ok.size == 0:
        disjoint = 1.0 if ref_ok.size or gen_ok.size else nan  # defined in one sample only: disjoint
        return out | {"n_bins": 0, "separation_power": disjoint, "separation_power_floor": nan, "chi2": nan,
                      "ndf": 0, "chi2_ndf": nan, "ks_statistic": nan, "ks_pvalue": nan,
                      "wasserstein": nan, "wasserstein_scaled": nan}
    ref_sorted, gen_sorted = np.sort(ref_ok), np.sort(gen_ok)
    edges = reference_edges(ref_sorted, n_bins, binning)
    h_ref, h_gen = _sorted_counts(ref_sorted, edges), _sorted_counts(gen_sorted, edges)
    chi2, ndf = chi2_two_sample(h_ref, h_gen)
    ks_stat, ks_p, w1 = _ks_and_wasserstein(ref_sorted, gen_sorted)
    std = float(ref_ok.std())
    populated = int(np.count_nonzero(h_ref + h_gen))
    return out | {
        "n_bins": int(len(edges) + 1),
        "separation_power": separation_power(h_ref, h_gen),
        "separation_power_floor": separation_power_floor(populated, ref_ok.size, gen_ok.size),
        "chi2": chi2,
        "ndf": ndf,
        "chi2_ndf": chi2 / ndf if ndf > 0 else nan,
        "ks_statistic": ks_stat,
        "ks_pvalue": ks_p,
        "wasserstein": w1,
        "wasserstein_scaled": w1 / std if std > 0 else (0.0 if w1 == 0 else float("inf")),
    }


def _sorted_counts(values_sorted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """:func:`bin_counts` for sorted values: one binary search per edge instead of per value."""
    below = np.searchsorted(values_sorted, edges, side="left")
    return np.diff(np.concatenate([[0], below, [values_sorted.size]])).astype(np.float64)


def _ks_and_wasserstein(a_sorted: np.ndarray, b_sorted: np.ndarray) -> tuple[float, float, float]:
    """Two-sided KS statistic and p-value and W1 from the two empirical CDFs on the merged values.

    Sorting once serves both (scipy sorts again for each). The p-value is scipy's: exact for
    small samples, otherwise Smirnov's asymptotic distribution at n = n1 n2 / (n1 + n2).
    """
    n1, n2 = a_sorted.size, b_sorted.size
    merged = np.sort(np.concatenate([a_sorted, b_sorted]), kind="stable")  # a merge of two sorted runs
    cdf_a = np.searchsorted(a_sorted, merged, side="right") / n1
    cdf_b = np.searchsorted(b_sorted, merged, side="right") / n2
    diff = np.abs(cdf_a - cdf_b)
    d = float(diff.max())
    w1 = float(np.sum(np.diff(merged) * diff[:-1]))
    if max(n1, n2) <= KS_EXACT_MAX:
        with warnings.catch_warnings():
            # where the exact calculation does not converge scipy falls back to the asymptotic
            # p-value, as the larger samples below use: not worth a warning on the user's console
            warnings.filterwarnings("ignore", message="ks_2samp: Exact calculation unsuccessful")
            p = float(stats.ks_2samp(a_sorted, b_sorted).pvalue)
    else:
        p = float(np.clip(stats.kstwo.sf(d, np.round(n1 * n2 / (n1 + n2))), 0.0, 1.0))
    return d, p, w1


__all__ = [
    "BINNINGS", "bin_counts", "chi2_two_sample", "compare_samples", "reference_edges", "separation_power",
    "separation_power_floor",
]
