"""PRD: the curve against a direct evaluation of the paper's definitions, identical / disjoint /
mode-dropping cases, and the k-means underneath."""

import math

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.metrics.image import kmeans, max_f_beta_pair, prd_auc, prd_curve, prd_from_embeddings


def test_curve_matches_the_definitions_evaluated_directly():
    """alpha(lambda) = sum min(lambda P, Q), beta(lambda) = sum min(P, Q / lambda) (the paper's
    Theorem 1 form, not alpha / lambda as in the library), over the same 1001 angles."""
    rng = np.random.default_rng(0)
    q, p = rng.random(20), rng.random(20)
    q[3] = 0.0
    precision, recall = prd_curve(q, p, num_angles=1001)
    q, p = q / q.sum(), p / p.sum()
    for i in range(0, 1001, 50):
        lam = math.tan(1e-10 + i * (math.pi / 2 - 2e-10) / 1000)
        assert precision[i] == pytest.approx(sum(min(lam * a, b) for a, b in zip(p, q)), abs=1e-12)
        assert recall[i] == pytest.approx(sum(min(a, b / lam) for a, b in zip(p, q)), abs=1e-9)


def test_identical_histograms_trace_the_full_square():
    h = np.random.default_rng(1).random(20)
    precision, recall = prd_curve(h, h)
    assert len(precision) == 1001
    assert precision[500] == pytest.approx(1.0, abs=1e-12) and recall[500] == pytest.approx(1.0, abs=1e-12)
    assert prd_auc(precision, recall) == pytest.approx(1.0, abs=1e-9)
    assert prd_auc(precision[::-1], recall[::-1]) == pytest.approx(1.0, abs=1e-9)  # order-free
    f8, f1_8 = max_f_beta_pair(precision, recall)
    assert f8 == pytest.approx(1.0, abs=1e-8) and f1_8 == pytest.approx(1.0, abs=1e-8)


def test_disjoint_histograms_give_the_zero_curve():
    precision, recall = prd_curve([0.5, 0.5, 0, 0], [0, 0, 0.3, 0.7])
    assert np.all(precision == 0) and np.all(recall == 0)
    assert prd_auc(precision, recall) == 0.0 and max_f_beta_pair(precision, recall) == (0.0, 0.0)


def test_mode_dropping_has_full_precision_and_half_recall():
    """Reference uniform over two modes, the model draws one: alpha = min(lambda / 2, 1),
    beta = min(1 / 2, 1 / lambda). Max precision 1, max recall 1/2, area 1/2."""
    precision, recall = prd_curve([1.0, 0.0], [0.5, 0.5])
    assert precision.max() == pytest.approx(1.0) and recall.max() == pytest.approx(0.5)
    assert prd_auc(precision, recall) == pytest.approx(0.5, abs=1e-3)
    f8, f1_8 = max_f_beta_pair(precision, recall)
    # both maxima sit at the corner p = 1, r = 1/2 (lambda = 2, on the angle grid to ~1e-3)
    assert f8 == pytest.approx(65 * 0.5 / (64 + 0.5), rel=1e-3)
    assert f1_8 == pytest.approx((1 + 1 / 64) * 0.5 / (1 / 64 + 0.5), rel=1e-3)


def blobs(n_per, centres, seed, scale=0.1):
    rng = np.random.default_rng(seed)
    return np.concatenate([c + scale * rng.normal(size=(n_per, len(c))) for c in centres])


CENTRES = np.eye(4, 8) * 20.0  # four well-separated blobs in 8-D


def test_kmeans_recovers_separated_blobs_and_is_deterministic():
    x = blobs(50, CENTRES, seed=2)
    truth = np.repeat(np.arange(4), 50)
    labels, centres, inertia = kmeans(x, 4, seed=7)
    # each true blob maps to exactly one cluster and vice versa
    assert {(t, l) for t, l in zip(truth, labels)} == {(t, labels[50 * t]) for t in range(4)}
    assert len(set(labels)) == 4
    np.testing.assert_allclose(np.sort(centres.sum(axis=1)), np.full(4, 20.0), atol=0.2)
    again = kmeans(x, 4, seed=7)
    np.testing.assert_array_equal(again[0], labels)
    assert again[2] == inertia


def test_kmeans_handles_more_clusters_than_distinct_points():
    x = np.repeat(np.eye(3), 10, axis=0)
    labels, _, inertia = kmeans(x, 5, seed=0)
    assert inertia == pytest.approx(0.0) and len(labels) == 30


def test_identical_embeddings_give_the_full_curve():
    x = np.random.default_rng(3).normal(size=(300, 16))
    result = prd_from_embeddings(x, x, num_runs=3)
    assert result.precision[500] == pytest.approx(1.0) and result.recall[500] == pytest.approx(1.0)
    assert result.auc == pytest.approx(1.0, abs=1e-6)
    assert result.f_8 == pytest.approx(1.0, abs=1e-6) and result.f_1_8 == pytest.approx(1.0, abs=1e-6)


def test_samples_of_one_distribution_are_close_to_the_full_curve():
    rng = np.random.default_rng(4)
    result = prd_from_embeddings(rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8)), num_runs=3)
    assert result.auc > 0.95 and result.f_8 > 0.95 and result.f_1_8 > 0.95


def test_disjoint_embeddings_give_zero():
    a, b = blobs(100, CENTRES[:2], seed=5), blobs(100, CENTRES[2:], seed=6)
    result = prd_from_embeddings(a, b, num_runs=2)
    assert result.auc == pytest.approx(0.0, abs=1e-9)
    assert result.f_8 == pytest.approx(0.0, abs=1e-9) and result.f_1_8 == pytest.approx(0.0, abs=1e-9)


def test_dropped_modes_show_as_low_recall_with_high_precision():
    reference = blobs(100, CENTRES, seed=7)  # four modes
    generated = blobs(200, CENTRES[:2], seed=8)  # only two of them
    result = prd_from_embeddings(generated, reference[np.random.default_rng(9).permutation(400)[:400]],
                                 num_runs=3, enforce_balance=False)
    assert result.f_1_8 > 0.95  # precision-like: what is drawn is realistic
    assert result.f_8 < 0.6  # recall-like: half the reference is never drawn
    assert result.recall.max() == pytest.approx(0.5, abs=0.02)


def test_unbalanced_sets_are_refused_unless_allowed():
    with pytest.raises(DataError, match="equal"):
        prd_from_embeddings(np.zeros((10, 2)), np.zeros((12, 2)))


@pytest.mark.parametrize("q, p", [([1, 0], [0.5, 0.25, 0.25]), ([0, 0], [1, 1]), ([-1, 2], [1, 1])])
def test_bad_histograms_are_data_errors(q, p):
    with pytest.raises(DataError):
        prd_curve(q, p)


def test_real_train_and_test_sets_are_close(mnist_train, mnist_test_outputs):
    from hepgan.metrics.image import extract_features

    test_features = mnist_test_outputs[1][:2000]
    train_features = extract_features(mnist_train.images[:2000])
    result = prd_from_embeddings(train_features, test_features, num_runs=2)
    assert result.auc > 0.9 and result.f_8 > 0.97 and result.f_1_8 > 0.97  # 0.96 / 0.99 / 0.99 measured
