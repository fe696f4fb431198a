"""Response and resolution: grouping of energies, moment errors, the Gaussian core."""

import numpy as np
import pytest

from hepgan.metrics.physics.resolution import (
    CORE_STD_FACTOR,
    energy_bins,
    gaussian_core,
    moment_stats,
    response_table,
)


def test_discrete_energies_are_grouped_by_exact_value():
    e = np.repeat([1000.0, 65000.0, 8000.0], 4)
    bins = energy_bins(e)
    assert [b.value for b in bins] == [1000.0, 8000.0, 65000.0]
    assert bins[2].label == "65 GeV" and bins[2].select(e).sum() == 4


def test_continuous_energies_fall_in_log_bins_that_cover_them_all():
    e = np.exp(np.random.default_rng(0).uniform(np.log(1e3), np.log(1e6), 1000))
    bins = energy_bins(e, n_log_bins=10)
    assert len(bins) == 10 and all(b.value is None for b in bins)
    assert sum(b.select(e).sum() for b in bins) == 1000
    assert bins[1].high / bins[1].low == pytest.approx(bins[5].high / bins[5].low)


def test_truncation_factor_is_the_std_of_a_gaussian_cut_at_two_sigma():
    x = np.random.default_rng(1).normal(size=2_000_000)
    assert CORE_STD_FACTOR == pytest.approx(x[np.abs(x) < 2].std(), abs=2e-3)


def test_moment_errors_match_the_scatter_of_repeated_samples():
    rng = np.random.default_rng(2)
    draws = [moment_stats(rng.gamma(4.0, 0.25, size=400)) for _ in range(600)]
    for key in ("mean", "rel_width"):
        spread = np.std([d[key] for d in draws])
        reported = np.mean([d[f"{key}_err"] for d in draws])
        assert reported == pytest.approx(spread, rel=0.12), key
    d = draws[0]
    assert d["n"] == 400 and d["rel_width"] == pytest.approx(0.5, rel=0.15)  # gamma(4): std / mean = 1/2


def test_gaussian_core_ignores_tails_and_its_errors_are_the_scatter():
    rng = np.random.default_rng(3)
    cores = []
    for _ in range(60):
        x = np.r_[rng.normal(1.0, 0.05, size=2000), rng.uniform(0.0, 0.7, size=200)]  # a low tail
        cores.append(gaussian_core(x, n_bootstrap=60, seed=int(rng.integers(1 << 30))))
    means = np.array([c["core_mean"] for c in cores])
    widths = np.array([c["core_rel_width"] for c in cores])
    assert means.mean() == pytest.approx(1.0, abs=0.002)
    assert widths.mean() == pytest.approx(0.05, rel=0.05)
    assert np.mean([c["core_mean_err"] for c in cores]) == pytest.approx(means.std(), rel=0.3)
    assert np.mean([c["core_rel_width_err"] for c in cores]) == pytest.approx(widths.std(), rel=0.3)
    assert moment_stats(np.r_[rng.normal(1.0, 0.05, size=2000), rng.uniform(0.0, 0.7, size=200)])["rel_width"] > 0.1


def test_gaussian_core_of_a_pure_gaussian_is_its_mean_and_sigma():
    x = np.random.default_rng(4).normal(2.0, 0.1, size=50_000)
    core = gaussian_core(x, n_bootstrap=20)
    assert core["core_mean"] == pytest.approx(2.0, abs=3 * core["core_mean_err"])
    assert core["core_sigma"] == pytest.approx(0.1, rel=0.02)
    assert core["core_fraction"] == pytest.approx(0.954, abs=0.01)


def test_response_table_rows_hold_both_samples_and_their_ratio():
    rng = np.random.default_rng(5)
    e_ref = np.repeat([1e4, 1e5], 3000)
    e_gen = np.repeat([1e4, 1e5, 2e5], 2000)  # 200 GeV only in the generated set: skipped
    r_ref = rng.normal(1.0, 0.05, size=e_ref.size)
    r_gen = np.where(e_gen == 1e4, rng.normal(1.02, 0.06, size=e_gen.size), rng.normal(1.0, 0.05, size=e_gen.size))
    rows = response_table(r_gen, e_gen, r_ref, e_ref, n_bootstrap=30)
    assert [row["energy_mev"] for row in rows] == [1e4, 1e5]
    low, high = rows
    assert low["generated"]["n"] == 2000 and low["reference"]["n"] == 3000
    assert low["ratio"]["mean"] == pytest.approx(low["generated"]["mean"] / low["reference"]["mean"])
    assert low["ratio"]["mean"] == pytest.approx(1.02, abs=3 * low["ratio"]["mean_err"] + 1e-3)
    assert low["ratio"]["rel_width"] == pytest.approx(1.2 / 1.02, rel=0.06)
    assert abs(high["ratio"]["core_rel_width"] - 1) < 4 * high["ratio"]["core_rel_width_err"]
