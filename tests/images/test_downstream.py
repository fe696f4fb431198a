"""Downstream studies: classifier training, the few-shot protocol and the mixing protocol, with an
oracle 'generator' that returns held-out real images of the requested class."""

import numpy as np
import pytest
import torch

from hepgan.errors import DataError
from hepgan.images.downstream import (
    accuracy, few_shot_study, few_shot_subset, format_downstream_table, mix_study, random_shift, train_classifier,
)


@pytest.fixture(scope="module")
def oracle(mnist_train):
    """generate(labels, seed): real training images 30000+ of the requested classes."""
    pool_x, pool_y = mnist_train.images[30_000:], mnist_train.labels[30_000:]
    by_class = {c: np.flatnonzero(pool_y == c) for c in range(10)}

    def generate(labels, seed):
        rng = np.random.default_rng(seed)
        return np.stack([pool_x[rng.choice(by_class[int(c)])] for c in labels]).astype(np.float32)

    return generate


def test_few_shot_subset_takes_n_per_class(mnist_train):
    idx = few_shot_subset(mnist_train.labels[:5000], 55, seed=0)
    assert len(idx) == 550 and np.all(np.bincount(mnist_train.labels[idx], minlength=10) == 55)
    with pytest.raises(DataError, match="fewer than"):
        few_shot_subset(np.array([0, 0, 1]), 2, seed=0)


def test_random_shift_moves_content_and_keeps_shape():
    x = torch.zeros(3, 1, 28, 28)
    x[:, :, 14, 14] = 5.0
    shifted = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    assert all(float(s.max()) == 5.0 for s in shifted)  # the bright pixel survives a <= 2 px shift


def test_pretraining_on_generated_images_helps_a_few_shot_classifier(mnist_train, mnist_test, oracle):
    torch.set_num_threads(1)
    test_x, test_y = mnist_test.images[:1000], mnist_test.labels[:1000]
    results = few_shot_study(oracle, mnist_train.images[:30_000], mnist_train.labels[:30_000], test_x, test_y,
                             per_class=20, n_generated=2000, pretrain_epochs=2, finetune_steps=30, seed=0)
    alone, generated_only, tuned, joint = results
    assert (alone.n_real, alone.n_generated, tuned.n_real, tuned.n_generated) == (200, 0, 200, 2000)
    assert tuned.test_accuracy > alone.test_accuracy + 0.03 and tuned.test_accuracy > 0.8
    assert joint.name == "200 real (x2) + 2000 generated, trained together" and joint.test_accuracy > 0.8
    assert "| 200 real only | 200 | 0 |" in format_downstream_table(results)


def test_mix_study_adds_the_requested_share_of_generated_images(mnist_train, mnist_test, oracle):
    torch.set_num_threads(1)
    results = mix_study(oracle, mnist_train.images[:600], mnist_train.labels[:600], mnist_test.images[:500],
                        mnist_test.labels[:500], fractions=(0.0, 0.5), epochs=2)
    assert [r.n_generated for r in results] == [0, 300]
    assert all(0.3 < r.test_accuracy <= 1.0 for r in results)  # well above chance (0.1) after 10-15 updates


def test_train_classifier_checks_labels_and_accuracy_counts_hits(mnist_train):
    with pytest.raises(DataError, match="labels"):
        train_classifier(mnist_train.images[:10], mnist_train.labels[:9])
    model = train_classifier(mnist_train.images[:512], mnist_train.labels[:512], epochs=1, seed=0)
    assert 0.0 <= accuracy(model, mnist_train.images[:100], mnist_train.labels[:100]) <= 1.0
