"""Mode collapse shows in the numbers: class histogram, effective classes, recall and coverage."""

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.images.collapse import collapse_diagnostics, format_collapse_table


def test_a_one_digit_generator_is_flagged_and_real_digits_are_not(mnist_train, mnist_test):
    reference = mnist_test.images[:1000]
    healthy = collapse_diagnostics(mnist_train.images[:1000], reference)
    ones = mnist_train.images[mnist_train.labels == 1][:1000]
    collapsed = collapse_diagnostics(ones, reference)
    assert sum(healthy["class_histogram"]) == 1000 and max(healthy["class_histogram"]) < 150
    assert healthy["effective_classes"] > 9.5 and healthy["max_class_fraction"] < 0.15
    assert collapsed["class_histogram"][1] >= 990 and collapsed["max_class_fraction"] > 0.98
    assert collapsed["effective_classes"] < 1.1 and collapsed["inception_score"] < 1.2
    # its "1"s look real (precision stays high) but most real digits have no generated neighbour
    assert collapsed["prdc_precision"] > 0.8 and collapsed["prdc_recall"] < 0.25 < 0.8 < healthy["prdc_recall"]
    assert collapsed["prdc_coverage"] < 0.2 < 0.6 < healthy["prdc_coverage"]
    table = format_collapse_table({"real": healthy, "ones": collapsed})
    assert table.count("\n") == 4 and "| ones | 0 " in table


def test_too_few_images_are_refused():
    with pytest.raises(DataError, match="at least"):
        collapse_diagnostics(np.zeros((4, 784)), np.zeros((4, 784)))
