"""Classifier two-sample test: AUC arithmetic, JSD, and both models on Gaussians with known answers."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from hepgan.metrics.physics.classifier import (
    classifier_test,
    jsd_bits,
    low_level_inputs,
    roc_auc,
    roc_auc_bootstrap,
)


def _brute_auc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0) + 0.5 * (diff == 0)).mean()


def test_auc_counts_ties_as_half_like_pair_counting():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=300).astype(float)  # many ties
    labels = rng.integers(0, 2, size=300)
    assert roc_auc(scores, labels) == pytest.approx(_brute_auc(scores, labels))
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.5, 0.5], [0, 1]) == 0.5
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([0.1, 0.2], [1, 1])


def test_bootstrap_error_of_the_auc_matches_its_scatter():
    rng = np.random.default_rng(1)
    aucs, errs = [], []
    for _ in range(150):
        labels = np.r_[np.zeros(400), np.ones(400)]
        scores = rng.normal(size=800) + 0.8 * labels
        auc, err = roc_auc_bootstrap(scores, labels, n_bootstrap=100, seed=int(rng.integers(1 << 30)))
        aucs.append(auc)
        errs.append(err)
    assert np.mean(errs) == pytest.approx(np.std(aucs), rel=0.15)
    assert np.mean(aucs) == pytest.approx(stats.norm.cdf(0.8 / math.sqrt(2)), abs=0.01)


def test_jsd_from_calibrated_probabilities():
    labels = np.r_[np.zeros(50), np.ones(50)]
    assert jsd_bits(labels, labels) == pytest.approx(1.0, abs=1e-5)  # perfectly told apart
    assert jsd_bits(np.full(100, 0.5), labels) == pytest.approx(0.0)  # no idea


def _gaussian_jsd(shift):
    def integrand(x):
        p, q = stats.norm.pdf(x), stats.norm.pdf(x, shift)
        m = 0.5 * (p + q)
        return 0.5 * (p * np.log2(p / m) + q * np.log2(q / m))

    return integrate.quad(integrand, -12, 12 + shift)[0]


@pytest.mark.parametrize("model", ["hgb", "mlp"])
def test_classifier_reaches_the_optimal_auc_and_jsd_of_shifted_gaussians(model):
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(8000, 3))
    gen = rng.normal(size=(8000, 3))
    gen[:, 0] += 1.0
    r = classifier_test(ref, gen, model=model, seed=1, threads=1)
    assert r["n_train"] == 9600 and r["n_val"] == 3200 and r["n_test"] == 3200
    assert r["auc"] == pytest.approx(stats.norm.cdf(1 / math.sqrt(2)), abs=max(0.02, 3 * r["auc_err"]))
    assert r["jsd_bits"] == pytest.approx(_gaussian_jsd(1.0), abs=0.03)
    same = classifier_test(ref, rng.normal(size=(8000, 3)), model=model, seed=1, threads=1)
    assert abs(same["auc"] - 0.5) < max(0.02, 3 * same["auc_err"])
    assert abs(same["jsd_bits"]) < 0.02


def test_classifier_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    ref, gen = rng.normal(size=(600, 4)), rng.normal(0.3, 1.0, size=(500, 4))
    a = classifier_test(ref, gen, model="mlp", seed=7, max_epochs=3, threads=1)
    b = classifier_test(ref, gen, model="mlp", seed=7, max_epochs=3, threads=1)
    assert a["auc"] == b["auc"] and a["jsd_bits"] == b["jsd_bits"]
    assert a["n_train"] == 600  # balanced: 500 of each class, 60% for training
    c = classifier_test(ref, gen, model="hgb", seed=7, threads=1)
    assert c["auc"] == classifier_test(ref, gen, model="hgb", seed=7, threads=1)["auc"]


def test_thread_limit_is_restored_afterwards():
    import torch

    before = torch.get_num_threads()
    rng = np.random.default_rng(4)
    classifier_test(rng.normal(size=(100, 2)), rng.normal(size=(100, 2)), model="mlp", max_epochs=1, threads=1)
    assert torch.get_num_threads() == before


def test_low_level_inputs_are_log_cells_log_energy_and_extras():
    x = low_level_inputs(np.array([[0.0, math.e - 1, -3.0]]), [[1000.0]], [np.array([0.21])])
    np.testing.assert_allclose(x, [[0.0, 1.0, 0.0, math.log(1000.0), 0.21]])


def test_classifier_rejects_bad_inputs():
    with pytest.raises(ValueError, match="unknown classifier"):
        classifier_test(np.zeros((50, 2)), np.zeros((50, 2)), model="svm")
    with pytest.raises(ValueError, match="at least 10"):
        classifier_test(np.zeros((5, 2)), np.zeros((50, 2)))
