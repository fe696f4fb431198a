"""Which network scores a data set's images: the packaged LeNet for MNIST only, a LeNet trained
on the data set otherwise, cached with the run; the real images' scores become the references."""

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.metrics.image import metric_classifier as mc
from hepgan.metrics.image.lenet import load_lenet


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits upsampled to 28x28, 0..255: real digits that are not MNIST."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.clip(np.stack([zoom(im, 28 / 8, order=1) for im in data.images]) / 16 * 255, 0, 255)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images.astype(np.uint8)[order], data.target[order]
    return (images[:1497], labels[:1497]), (images[1497:], labels[1497:])


@pytest.fixture(scope="module")
def scorer(digits, tmp_path_factory):
    """The metric classifier of the digits (200 steps: 99 % held-out accuracy), cached in a folder."""
    (train, train_labels), (test, test_labels) = digits
    folder = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mc, "TRAIN_STEPS", 200)
        return mc.metric_classifier(train, train_labels, test, test_labels, cache_dir=folder), folder


def test_the_packaged_lenet_does_not_suit_other_digits_and_a_classifier_trained_on_them_does(digits, scorer,
                                                                                              monkeypatch):
    (train, train_labels), (test, test_labels) = digits
    assert mc.accuracy(load_lenet(), test, test_labels) < 0.9  # MNIST's network on other real digits
    assert not mc.is_mnist(test)
    scorer, tmp_path = scorer
    monkeypatch.setattr(mc, "TRAIN_STEPS", 200)
    assert scorer.trained_here and scorer.real_accuracy > 0.95
    assert "trained on this data set's 1,497 training images" in scorer.description
    assert (tmp_path / mc.FILE_NAME).is_file()

    def must_not_train(*args, **kwargs):
        raise AssertionError("the cached classifier should have been used")

    monkeypatch.setattr(mc, "train_classifier", must_not_train)
    again = mc.metric_classifier(train, train_labels, test, test_labels, cache_dir=tmp_path)
    assert again.real_accuracy == scorer.real_accuracy


def test_real_images_pass_the_thresholds_derived_from_them(digits, scorer):
    """No false 'fail' from the metric: the real held-out images, scored as if generated, meet the
    thresholds the report derives from the real images."""
    from hepgan.report.report import DEFAULT_THRESHOLDS, image_limits, image_report_metrics

    _, (test, test_labels) = digits
    network = scorer[0].network
    metrics, _ = image_report_metrics(test, test, labels=test_labels, real_labels=test_labels, classifier=network)
    limits = image_limits(DEFAULT_THRESHOLDS, metrics, own_classifier=True)
    assert metrics["inception_score"] >= limits["inception_score"] and metrics["real_inception_score"] > 8
    assert metrics["label_accuracy"] >= limits["label_accuracy"]
    assert image_limits(DEFAULT_THRESHOLDS, metrics, own_classifier=False) == DEFAULT_THRESHOLDS  # MNIST: absolute


def test_mnist_is_recognised_by_its_test_images(mnist_test):
    scorer = mc.metric_classifier(mnist_test.images[:100], mnist_test.labels[:100], mnist_test.images,
                                  mnist_test.labels)
    assert mc.is_mnist(mnist_test.images) and not scorer.trained_here and scorer.real_accuracy > 0.99
    assert not mc.is_mnist(mnist_test.images[:9_999])


def test_too_few_or_mislabelled_training_images_are_refused():
    images = np.zeros((100, 28, 28), np.uint8)
    with pytest.raises(DataError, match="at least 64 labelled training images, got 10"):
        mc.train_classifier(images[:10], np.zeros(10, int))
    with pytest.raises(DataError, match=r"labels in 0..9, got 0..12"):
        mc.train_classifier(images, np.arange(100) % 13)
