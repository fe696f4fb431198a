"""Which network scores a data set's images: the packaged MNIST LeNet for MNIST, else one trained
on the data set's own real images.

IS, FID, PRD, PRDC and label accuracy all read a classifier. The packaged LeNet knows MNIST; on
other digits it is unsure of real images (scikit-learn's 8x8 digits upsampled to 28x28: 89 %
accuracy, 45 % on the nines, IS 4.35), so MNIST's targets (IS 9.0, accuracy 0.97) would judge a
generator against a yardstick the real images themselves fail. For any other data set the same
LeNet architecture is trained from scratch on its training images for a fixed number of steps,
and its accuracy on the held-out real images is recorded with it: the real-data references the
generator is then judged against come from that network.

MNIST is recognised by the SHA-256 of its decoded test images, so a copy in any compression is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from hepgan.errors import DataError
from hepgan.metrics.image.lenet import N_CLASSES, LeNet, classify, load_lenet, preprocess, sha256_of

MNIST_TEST_SHA256 = "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"
TRAIN_STEPS = 300  # fixed, so the classifier (and every score read from it) does not depend on the machine;
# on the upsampled scikit-learn digits 200 steps reach 99.3 % held-out accuracy, as 500 do
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
FILE_NAME = "metric_classifier.pt"


@dataclass
class MetricClassifier:
    """The network that scores images, what it is, and how well it knows the real held-out images."""

    network: LeNet
    description: str
    real_accuracy: float  # on the held-out real images
    trained_here: bool


def images_digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images, np.uint8).tobytes()).hexdigest()


def is_mnist(test_images: np.ndarray) -> bool:
    """Whether these are MNIST's 10,000 test images."""
    return np.asarray(test_images).shape == (10_000, 28, 28) and images_digest(test_images) == MNIST_TEST_SHA256


def accuracy(network: LeNet, images: np.ndarray, labels: np.ndarray) -> float:
    probs, _ = classify(images, network)
    return float((probs.argmax(1) == np.asarray(labels).reshape(-1)).mean())


def train_classifier(images: np.ndarray, labels: np.ndarray, seed: int = 0, steps: int | None = None) -> LeNet:
    """A LeNet trained from scratch on (N, 28, 28) 0..255 images and their 0..9 labels."""
    labels = np.asarray(labels).reshape(-1)
    if len(images) != len(labels) or len(images) < BATCH_SIZE:
        raise DataError("images", f"a metric classifier needs at least {BATCH_SIZE} labelled training images, "
                                  f"got {len(images)} images and {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise DataError("labels", f"a metric classifier needs labels in 0..{N_CLASSES - 1}, got {labels.min()}..{labels.max()}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout
    network = LeNet()
    x, y = preprocess(images), torch.from_numpy(labels.astype(np.int64))
    optimiser = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    network.train()
    for _ in range(TRAIN_STEPS if steps is None else steps):
        rows = torch.randint(len(x), (BATCH_SIZE,), generator=generator)
        optimiser.zero_grad()
        F.cross_entropy(network(x[rows]), y[rows]).backward()
        optimiser.step()
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def metric_classifier(train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                      test_labels: np.ndarray, cache_dir: str | Path | None = None, seed: int = 0) -> MetricClassifier:
    """The packaged LeNet for MNIST; for other data a LeNet trained on ``train_images``, read from
    (or written atomically to) ``cache_dir`` when given, keyed by the data's digests."""
    if is_mnist(test_images):
        network = load_lenet()
        return MetricClassifier(network, "the packaged MNIST LeNet", accuracy(network, test_images, test_labels), False)
    key = {"train_sha256": images_digest(train_images), "test_sha256": images_digest(test_images),
           "steps": TRAIN_STEPS, "seed": seed}
    path = Path(cache_dir) / FILE_NAME if cache_dir is not None else None
    network = _cached(path, key)
    if network is None:
        network = train_classifier(train_images, train_labels, seed, TRAIN_STEPS)
        if path is not None:
            _save(path, network, key)
    description = (f"a LeNet trained on this data set's {len(train_images):,} training images ({TRAIN_STEPS:,} "
                   "steps; the packaged one knows MNIST only)")
    return MetricClassifier(network, description, accuracy(network, test_images, test_labels), True)


def _cached(path: Path | None, key: dict) -> LeNet | None:
    record = path.with_suffix(".json") if path is not None else None
    if path is None or not path.is_file() or not record.is_file():
        return None
    try:
        if json.loads(record.read_text()).get("key") != key:
            return None
        network = load_lenet(path)
    except Exception:  # noqa: BLE001  (an unreadable cache is retrained, never trusted)
        return None
    return network


def _save(path: Path, network: LeNet, key: dict) -> None:
    from hepgan.data.files import atomic_output

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(network.state_dict(), tmp)
    with atomic_output(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps({"key": key, "sha256": sha256_of(path)}))


__all__ = ["MNIST_TEST_SHA256", "MetricClassifier", "accuracy", "images_digest", "is_mnist", "metric_classifier",
           "train_classifier"]
