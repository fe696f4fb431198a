"""Does a conditional generator draw the digit it was asked for? And does it draw all of them?

Label accuracy is the fraction of generated images the LeNet classifies as the label they were
conditioned on (the MNIST GAN coursework studies' best CGAN: 0.78-0.83). Per-class accuracy shows which digits fail, and
the histogram of predicted classes is the mode-collapse diagnostic that works for unconditional
generators too: a collapsed GAN (the MNIST GAN coursework studies' vanilla GAN drew only "1"s) piles up in one bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepgan.errors import DataError


@dataclass(frozen=True)
class LabelAccuracy:
    """Agreement of predicted and conditioning labels.

    ``per_class[c]`` is the accuracy on images conditioned on class c (NaN when none were);
    ``predicted_counts`` / ``label_counts`` are histograms of predicted / conditioning classes.
    """

    accuracy: float
    per_class: np.ndarray
    predicted_counts: np.ndarray
    label_counts: np.ndarray


def class_histogram(predictions, n_classes: int = 10) -> np.ndarray:
    """Counts of each class 0..n_classes-1 among integer predictions (N,)."""
    pred = _as_classes(predictions, "predictions", n_classes)
    return np.bincount(pred, minlength=n_classes)


def accuracy_from_predictions(predictions, labels, n_classes: int = 10) -> LabelAccuracy:
    """Overall and per-class accuracy of integer ``predictions`` against ``labels`` (both (N,))."""
    pred = _as_classes(predictions, "predictions", n_classes)
    true = _as_classes(labels, "labels", n_classes)
    if pred.shape != true.shape:
        raise DataError("labels", f"{len(true)} labels for {len(pred)} predictions")
    if len(pred) == 0:
        raise DataError("predictions", "empty")
    hits = pred == true
    label_counts = np.bincount(true, minlength=n_classes)
    hit_counts = np.bincount(true, weights=hits.astype(np.float64), minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(label_counts > 0, hit_counts / np.maximum(label_counts, 1), np.nan)
    return LabelAccuracy(float(hits.mean()), per_class, np.bincount(pred, minlength=n_classes), label_counts)


def label_accuracy(images, labels, classifier=None, batch_size: int = 1000,
                   value_range: tuple[float, float] = (0.0, 255.0)) -> LabelAccuracy:
    """Accuracy of the LeNet on ``images`` (0..255 by default) against the labels they were
    conditioned on (or, for real images, their true labels)."""
    from hepgan.metrics.image.lenet import N_CLASSES, predict_proba

    probs = predict_proba(images, classifier, batch_size, value_range)
    return accuracy_from_predictions(probs.argmax(axis=1), labels, N_CLASSES)


def _as_classes(values, name: str, n_classes: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] > 1:  # one-hot or probability rows
        array = array.argmax(axis=1)
    array = array.reshape(-1) if array.ndim == 2 and array.shape[1] == 1 else array
    if array.ndim != 1:
        raise DataError(name, f"expected class indices (N,), got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise DataError(name, "class indices must be whole numbers")
    elif array.dtype.kind not in "iub":
        raise DataError(name, f"class indices must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if len(array) and (array.min() < 0 or array.max() >= n_classes):
        raise DataError(name, f"class indices must lie in 0..{n_classes - 1}, found {array.min()}..{array.max()}")
    return array


__all__ = ["LabelAccuracy", "accuracy_from_predictions", "class_histogram", "label_accuracy"]
