"""Validation metrics by name: what ``eval.metrics`` in a config may list.

A validation metric is a function of generated and reference samples in physical units
(:class:`ValidationSamples`) returning named floats. It is registered with the names it returns,
so a config naming an unknown metric or output is refused when it is loaded. The adapters in this
package register the shower and image metrics; a user registers their own with
:func:`register_validation_metric`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hepgan.errors import ConfigError, unknown_name_error


@dataclass
class ValidationSamples:
    """Generated and reference samples under the same conditions, in physical units."""

    generated: np.ndarray
    reference: np.ndarray
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None
    geometry: str | None = None
    kind: str = "showers"


MetricFn = Callable[[ValidationSamples], dict[str, float]]
_METRICS: dict[str, tuple[MetricFn, tuple[str, ...]]] = {}


def register_validation_metric(name: str, outputs: tuple[str, ...]):
    """Decorator: make ``fn(samples) -> {output: value}`` available as ``eval.metrics: [name]``."""

    def wrap(fn: MetricFn) -> MetricFn:
        _METRICS[name] = (fn, tuple(outputs))
        return fn

    return wrap


def validation_metric(name: str) -> tuple[MetricFn, tuple[str, ...]]:
    if name not in _METRICS:
        raise ConfigError(unknown_name_error("validation metric", name, list(_METRICS)))
    return _METRICS[name]


def list_validation_metrics() -> dict[str, tuple[str, ...]]:
    return {name: outputs for name, (_, outputs) in sorted(_METRICS.items())}


__all__ = ["MetricFn", "ValidationSamples", "list_validation_metrics", "register_validation_metric",
           "validation_metric"]
