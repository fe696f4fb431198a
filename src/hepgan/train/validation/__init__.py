"""The trainer's validation metrics, which pick the best checkpoint (``eval.metrics``, ``eval.select``).

The adapters here call :mod:`hepgan.metrics` on the trainer's held-out samples; the metrics never
import the trainer. Importing this package registers every built-in metric.
"""

from hepgan.train.validation import images as _images  # noqa: F401  (registers the image metrics)
from hepgan.train.validation import showers as _showers  # noqa: F401  (registers the shower metrics)
from hepgan.train.validation.registry import (
    MetricFn,
    ValidationSamples,
    list_validation_metrics,
    register_validation_metric,
    validation_metric,
)

__all__ = ["MetricFn", "ValidationSamples", "list_validation_metrics", "register_validation_metric",
           "validation_metric"]
