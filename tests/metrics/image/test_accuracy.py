"""Label accuracy, per-class accuracy and the prediction histogram on hand-made cases."""

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.metrics.image import accuracy_from_predictions, class_histogram, label_accuracy


def test_hand_made_case():
    predictions = [0, 0, 1, 1, 2, 2, 2, 3]
    labels = [0, 1, 1, 1, 2, 0, 2, 3]
    result = accuracy_from_predictions(predictions, labels, n_classes=5)
    assert result.accuracy == pytest.approx(6 / 8)
    np.testing.assert_allclose(result.per_class[:4], [1 / 2, 2 / 3, 1.0, 1.0])
    assert np.isnan(result.per_class[4])  # nothing conditioned on class 4
    np.testing.assert_array_equal(result.predicted_counts, [2, 2, 3, 1, 0])
    np.testing.assert_array_equal(result.label_counts, [2, 3, 2, 1, 0])


def test_mode_collapse_shows_in_the_histogram():
    labels = np.tile(np.arange(10), 20)
    collapsed = np.ones(200, dtype=int)  # the seed's vanilla GAN: only "1"s
    np.testing.assert_array_equal(class_histogram(collapsed), [0, 200] + [0] * 8)
    result = accuracy_from_predictions(collapsed, labels)
    assert result.accuracy == pytest.approx(0.1)
    np.testing.assert_allclose(result.per_class, [0, 1] + [0] * 8)


def test_probability_rows_and_float_indices_are_accepted():
    probs = np.eye(3)[[2, 0, 1]] * 0.8 + 0.05
    result = accuracy_from_predictions(probs, np.array([2.0, 0.0, 0.0]), n_classes=3)
    assert result.accuracy == pytest.approx(2 / 3)


@pytest.mark.parametrize("predictions, labels", [
    ([0, 1], [0]),
    ([0, 10], [0, 1]),
    ([-1, 0], [0, 1]),
    ([0.5, 1.0], [0, 1]),
    (["a", "b"], [0, 1]),
    ([], []),
])
def test_bad_input_is_a_data_error(predictions, labels):
    with pytest.raises(DataError):
        accuracy_from_predictions(predictions, labels)


def test_lenet_on_the_real_test_set(mnist_test, mnist_test_outputs):
    """Packaged LeNet: >= 99% on the real MNIST test set, every class >= 98%, no class missing."""
    result = accuracy_from_predictions(mnist_test_outputs[0], mnist_test.labels)
    assert result.accuracy >= 0.99
    assert np.nanmin(result.per_class) >= 0.98
    assert np.all(result.predicted_counts > 800)
    subset = label_accuracy(mnist_test.images[:300], mnist_test.labels[:300])
    assert subset.accuracy == pytest.approx(accuracy_from_predictions(mnist_test_outputs[0][:300],
                                                                      mnist_test.labels[:300]).accuracy)
