"""PRDC against a brute-force NumPy/SciPy transcription of the paper's definitions, and the
identical / same-distribution / disjoint cases."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from hepgan.errors import DataError
from hepgan.metrics.image import knn_radii, prdc_from_embeddings


def brute_force(real, fake, k):
    d_rr, d_ff, d_rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    r_real = np.sort(d_rr, axis=1)[:, k]
    r_fake = np.sort(d_ff, axis=1)[:, k]
    precision = np.mean([any(d_rf[i, j] < r_real[i] for i in range(len(real))) for j in range(len(fake))])
    recall = np.mean([any(d_rf[i, j] < r_fake[j] for j in range(len(fake))) for i in range(len(real))])
    density = sum((d_rf[i, j] < r_real[i]) for i in range(len(real)) for j in range(len(fake))) / (k * len(fake))
    coverage = np.mean([d_rf[i].min() < r_real[i] for i in range(len(real))])
    return precision, recall, density, coverage


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_brute_force_and_does_not_depend_on_the_batch_size(k):
    rng = np.random.default_rng(k)
    real, fake = rng.normal(size=(60, 4)), rng.normal(0.3, 1.2, size=(45, 4))
    expected = brute_force(real, fake, k)
    for batch_size in (None, 7):
        result = prdc_from_embeddings(fake, real, k=k, batch_size=batch_size)
        assert (result.precision, result.recall, result.density, result.coverage) == pytest.approx(expected)
    np.testing.assert_allclose(knn_radii(real, k), np.sort(cdist(real, real), axis=1)[:, k], rtol=1e-12)


def test_identical_samples_score_one_and_density_exactly_one():
    x = np.random.default_rng(10).normal(size=(500, 32))
    result = prdc_from_embeddings(x, x, k=5, batch_size=64)
    assert (result.precision, result.recall, result.coverage) == (1.0, 1.0, 1.0)
    assert result.density == pytest.approx(1.0, abs=1e-12)


def test_samples_of_one_distribution_score_near_one():
    rng = np.random.default_rng(11)
    result = prdc_from_embeddings(rng.normal(size=(1000, 4)), rng.normal(size=(1000, 4)))
    assert result.precision > 0.9 and result.recall > 0.9
    assert result.density == pytest.approx(1.0, abs=0.1)
    assert result.coverage > 0.9  # expected about 1 - 2^-k = 0.97


def test_disjoint_samples_score_zero():
    rng = np.random.default_rng(12)
    result = prdc_from_embeddings(rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 50.0)
    assert (result.precision, result.recall, result.density, result.coverage) == (0.0, 0.0, 0.0, 0.0)


def test_density_is_not_fooled_by_a_real_outlier():
    """One far real outlier gets a huge ball that swallows unrealistic fakes: precision says 1,
    density (each fake sits in 1 ball, not about k) says 1/k -- the paper's motivation."""
    rng = np.random.default_rng(13)
    real = rng.normal(size=(200, 2))
    real[0] = [20.0, 20.0]  # its 5th neighbour is the main cloud, ~28 away
    fake = 0.5 * rng.normal(size=(200, 2)) + 10.0  # between the two, far from the cloud
    result = prdc_from_embeddings(fake, real, k=5)
    assert result.precision == 1.0
    assert result.density == pytest.approx(1 / 5)
    assert result.coverage == pytest.approx(1 / 200)


def test_bad_input_is_a_data_error():
    with pytest.raises(DataError):
        prdc_from_embeddings(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(DataError):
        prdc_from_embeddings(np.zeros((10, 3)), np.zeros((5, 3)), k=5)
    with pytest.raises(DataError):
        prdc_from_embeddings(np.full((10, 3), np.nan), np.zeros((10, 3)))
