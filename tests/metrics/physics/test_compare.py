"""Two-sample statistics against analytic cases and independent computations."""

import math

import numpy as np
import pytest
from scipy import stats

from hepgan.metrics.physics.compare import (
    bin_counts,
    chi2_two_sample,
    compare_samples,
    reference_edges,
    separation_power,
    separation_power_floor,
)


def test_separation_power_identical_disjoint_and_by_hand():
    h = np.array([3.0, 5.0, 2.0])
    assert separation_power(h, 2 * h) == 0.0  # shapes, not counts, are compared
    assert separation_power([4, 6, 0, 0], [0, 0, 1, 9]) == pytest.approx(1.0)
    # p = (1, 0), q = (1/2, 1/2): 0.5 * ((1/2)^2 / (3/2) + (1/2)^2 / (1/2)) = 1/3
    assert separation_power([10, 0], [5, 5]) == pytest.approx(1 / 3)
    assert math.isnan(separation_power([0, 0], [1, 2]))


def test_separation_power_noise_floor_matches_repeated_draws():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=2000)
    edges = reference_edges(ref, 20)
    h_ref = bin_counts(ref, edges)
    values = [separation_power(bin_counts(rng.normal(size=1000), edges), bin_counts(rng.normal(size=2000), edges))
              for _ in range(300)]
    assert np.mean(values) == pytest.approx(separation_power_floor(20, 1000, 2000), rel=0.1)
    assert h_ref.sum() == 2000


def test_quantile_edges_fill_reference_bins_evenly_and_keep_outliers():
    rng = np.random.default_rng(1)
    ref = rng.exponential(size=10_000)
    edges = reference_edges(ref, 10, "quantile")
    counts = bin_counts(ref, edges)
    assert len(counts) == 10 and np.all(np.abs(counts - 1000) <= 1)
    gen = np.array([-5.0, 1e6])  # beyond the reference range on both sides: first and last bin
    assert bin_counts(gen, edges).tolist() == [1] + [0] * 8 + [1]
    spike = np.r_[np.ones(900), rng.uniform(size=100)]  # a spike: repeated quantile edges are merged
    assert len(reference_edges(spike, 10)) < 9


def test_range_edges_are_equal_width_between_the_reference_extremes():
    edges = reference_edges(np.array([0.0, 10.0, 3.0]), 5, "range")
    np.testing.assert_allclose(edges, [2, 4, 6, 8])
    with pytest.raises(ValueError, match="unknown binning"):
        reference_edges(np.ones(3), 5, "log")


def test_chi2_equals_pearson_contingency_for_equal_totals():
    a = np.array([10.0, 25, 40, 20, 5])
    b = np.array([14.0, 20, 35, 22, 9])
    chi2, ndf = chi2_two_sample(a, b)
    pearson = stats.chi2_contingency(np.stack([a, b]), correction=False)
    assert chi2 == pytest.approx(pearson.statistic)
    assert ndf == pearson.dof == 4


def test_chi2_with_weights_by_hand_and_empty_bins_skipped():
    w1, s1 = np.array([2.0, 0.0, 6.0]), np.array([1.0, 0.0, 5.0])
    w2, s2 = np.array([1.0, 0.0, 1.0]), np.array([0.5, 0.0, 0.5])
    expected = sum((w1[i] / 8 - w2[i] / 2) ** 2 / (s1[i] / 64 + s2[i] / 4) for i in (0, 2))
    chi2, ndf = chi2_two_sample(w1, w2, s1, s2)
    assert chi2 == pytest.approx(expected) and ndf == 1


def test_chi2_per_ndf_is_about_one_for_samples_of_one_distribution():
    rng = np.random.default_rng(2)
    ref = rng.gamma(3.0, size=5000)
    edges = reference_edges(ref, 30)
    values = []
    for _ in range(200):
        gen, ref = bin_counts(rng.gamma(3.0, size=3000), edges), bin_counts(rng.gamma(3.0, size=5000), edges)
        chi2, ndf = chi2_two_sample(gen, ref)
        values.append(chi2 / ndf)
    assert np.mean(values) == pytest.approx(1.0, abs=0.05)


def test_compare_samples_reports_every_statistic_and_drops_nan():
    rng = np.random.default_rng(3)
    ref = np.r_[rng.normal(size=4000), [np.nan] * 7]
    gen = np.r_[rng.normal(0.5, 1.0, size=3000), [np.nan] * 3]
    out = compare_samples(ref, gen, n_bins=40)
    assert (out["n_reference"], out["nan_reference"], out["n_generated"], out["nan_generated"]) == (4000, 7, 3000, 3)
    ks = stats.ks_2samp(ref[:4000], gen[:3000], method="asymp")
    assert out["ks_statistic"] == pytest.approx(ks.statistic) and out["ks_pvalue"] == pytest.approx(ks.pvalue)
    assert out["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref[:4000], gen[:3000]), rel=1e-9)
    assert out["wasserstein"] == pytest.approx(0.5, abs=0.05)
    assert out["wasserstein_scaled"] == pytest.approx(out["wasserstein"] / np.std(ref[:4000]))
    assert out["n_bins"] == 40 and out["ndf"] == 39
    assert out["chi2_ndf"] > 10 and out["separation_power"] > 0.05
    same = compare_samples(ref, rng.normal(size=3000), n_bins=40)
    assert same["separation_power"] < 3 * same["separation_power_floor"]
    assert same["ks_pvalue"] > 1e-3


def test_small_samples_get_scipys_default_ks_p_value_and_ties_are_handled():
    rng = np.random.default_rng(4)
    ref, gen = rng.normal(size=300), rng.normal(0.2, 1.0, size=200)
    assert compare_samples(ref, gen)["ks_pvalue"] == pytest.approx(stats.ks_2samp(ref, gen).pvalue)
    ref, gen = rng.integers(0, 6, size=500).astype(float), rng.integers(1, 7, size=400).astype(float)
    out, ks = compare_samples(ref, gen), stats.ks_2samp(ref, gen)
    assert out["ks_statistic"] == pytest.approx(ks.statistic) and out["ks_pvalue"] == pytest.approx(ks.pvalue)
    assert out["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref, gen))


def test_observable_defined_in_one_sample_only_is_disjoint():
    out = compare_samples(np.array([1.0, 2.0]), np.array([np.nan, np.nan]))
    assert out["separation_power"] == 1.0 and out["n_generated"] == 0 and math.isnan(out["ks_statistic"])
    assert math.isnan(compare_samples(np.array([np.nan]), np.array([np.nan]))["separation_power"])
