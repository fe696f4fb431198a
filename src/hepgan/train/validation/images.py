"""Image metrics as trainer validation metrics, so ``eval.select`` can pick checkpoints by them.

Registered names (``eval.metrics`` in a config) and what they return:

- ``inception``: ``inception_score`` (mean over 10 splits, higher is better) and its std over the
  splits ``inception_score_std``, ``fid`` (generated vs held-out
  reference, lower is better), ``label_accuracy`` (LeNet class vs the label each image was
  generated for; NaN when the samples carry no labels, and only meaningful for conditional models)
- ``image_prd``: ``prd_auc``, ``prd_f8`` (recall-like), ``prd_f1_8`` (precision-like)
- ``image_prdc``: ``prdc_precision``, ``prdc_recall``, ``prdc_density``, ``prdc_coverage`` (k = 5)

Importing this module only registers the names; the LeNet and the metric code load on first use.
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import ConfigError
from hepgan.train.validation.registry import ValidationSamples, register_validation_metric

INCEPTION_SPLITS = 10


def _images(samples: ValidationSamples, name: str) -> tuple[np.ndarray, np.ndarray]:
    if samples.kind != "images":
        raise ConfigError(f"validation metric {name!r} needs image data, got {samples.kind!r}")
    if len(samples.generated) < 2 or len(samples.reference) < 2:
        raise ConfigError(f"validation metric {name!r} needs at least 2 generated and 2 reference images")
    return samples.generated, samples.reference


@register_validation_metric("inception", ("inception_score", "inception_score_std", "fid", "label_accuracy"))
def inception_metric(samples: ValidationSamples) -> dict[str, float]:
    """IS of the generated images, their FID to the reference images and their label accuracy."""
    from hepgan.metrics.image.fid import frechet_distance_from_features
    from hepgan.metrics.image.inception import inception_score_from_probs
    from hepgan.metrics.image.lenet import classify

    generated, reference = _images(samples, "inception")
    probs, gen_features = classify(generated)
    _, ref_features = classify(reference)
    score = inception_score_from_probs(probs, n_splits=min(INCEPTION_SPLITS, len(probs)))
    accuracy = float("nan")
    if samples.labels is not None:
        labels = np.asarray(samples.labels).reshape(-1)
        if len(labels) != len(probs):
            raise ConfigError(f"validation metric 'inception': {len(labels)} labels for {len(probs)} images")
        accuracy = float((probs.argmax(axis=1) == labels).mean())
    return {
        "inception_score": score.mean,
        "inception_score_std": score.std,
        "fid": frechet_distance_from_features(gen_features, ref_features),
        "label_accuracy": accuracy,
    }


@register_validation_metric("image_prd", ("prd_auc", "prd_f8", "prd_f1_8"))
def prd_metric(samples: ValidationSamples) -> dict[str, float]:
    """PRD (20 clusters, 10 runs) of generated vs reference LeNet embeddings."""
    from hepgan.metrics.image.lenet import extract_features
    from hepgan.metrics.image.prd import prd_from_embeddings

    generated, reference = _images(samples, "image_prd")
    n = min(len(generated), len(reference))  # PRD wants equal counts
    result = prd_from_embeddings(extract_features(generated[:n]), extract_features(reference[:n]))
    return {"prd_auc": result.auc, "prd_f8": result.f_8, "prd_f1_8": result.f_1_8}


@register_validation_metric("image_prdc", ("prdc_precision", "prdc_recall", "prdc_density", "prdc_coverage"))
def prdc_metric(samples: ValidationSamples) -> dict[str, float]:
    """k-NN precision/recall/density/coverage (k = 5) of generated vs reference LeNet embeddings."""
    from hepgan.metrics.image.lenet import extract_features
    from hepgan.metrics.image.prdc import prdc_from_embeddings

    generated, reference = _images(samples, "image_prdc")
    if min(len(generated), len(reference)) <= 5:
        raise ConfigError("validation metric 'image_prdc' needs more than 5 generated and reference images")
    result = prdc_from_embeddings(extract_features(generated), extract_features(reference), k=5)
    return {"prdc_precision": result.precision, "prdc_recall": result.recall,
            "prdc_density": result.density, "prdc_coverage": result.coverage}


__all__ = ["inception_metric", "prd_metric", "prdc_metric"]
