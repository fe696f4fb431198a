"""How the trainer talks to the outside: callbacks, and validation metrics that pick checkpoints.

A validation metric is a pure function of generated and reference samples in physical units
(:class:`ValidationSamples`) returning named floats; it is registered with the names it returns
so configs are checked at load time. Later stages (physics and image metrics) register theirs
here; the trainer never imports them.
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
# Modules whose import registers more validation metrics; imported on first look-up, so the
# trainer never depends on them (they depend on this module).
PLUGINS = ("hepgan.metrics.physics.validation", "hepgan.metrics.image.validation")
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        import importlib

        for module in PLUGINS:
            importlib.import_module(module)


def register_validation_metric(name: str, outputs: tuple[str, ...]):
    """Decorator: make ``fn(samples) -> {output: value}`` available as ``eval.metrics: [name]``."""

    def wrap(fn: MetricFn) -> MetricFn:
        _METRICS[name] = (fn, tuple(outputs))
        return fn

    return wrap


def validation_metric(name: str) -> tuple[MetricFn, tuple[str, ...]]:
    _load_plugins()
    if name not in _METRICS:
        raise ConfigError(unknown_name_error("validation metric", name, list(_METRICS)))
    return _METRICS[name]


def list_validation_metrics() -> dict[str, tuple[str, ...]]:
    _load_plugins()
    return {name: outputs for name, (_, outputs) in sorted(_METRICS.items())}


class Callback:
    """Hooks the trainer calls; override what you need."""

    def on_train_start(self, trainer) -> None: ...

    def on_step_end(self, trainer, step: int, logs: dict[str, float]) -> None: ...

    def on_validation(self, trainer, step: int, metrics: dict[str, float]) -> None: ...

    def on_estimate(self, trainer, estimate) -> None:
        """Once, after the first timed steps: the run's speed and expected finish (an Estimate)."""

    def on_train_end(self, trainer) -> None: ...


@register_validation_metric("response", ("response_error", "resolution_error"))
def response_metric(samples: ValidationSamples) -> dict[str, float]:
    """Energy response and resolution per incident energy: mean over energies of
    |<E_tot/E>_gen / <E_tot/E>_ref - 1| and |width_gen / width_ref - 1| (width = std/mean)."""
    if samples.kind != "showers" or "energy" not in samples.conditions:
        raise ConfigError("validation metric 'response' needs shower data conditioned on energy")
    energy = samples.conditions["energy"]
    gen = samples.generated.sum(axis=1) / energy
    ref = samples.reference.sum(axis=1) / energy
    keys = np.round(np.log(energy), 3)
    values = np.unique(keys)
    if len(values) > 20:  # continuous spectrum: use 10 quantile bins of ln E
        edges = np.quantile(keys, np.linspace(0, 1, 11))
        keys = np.clip(np.searchsorted(edges, keys, side="right") - 1, 0, 9)
        values = np.unique(keys)
    resp, reso = [], []
    for key in values:
        sel = keys == key
        if sel.sum() < 5:
            continue
        g, r = gen[sel], ref[sel]
        resp.append(abs(g.mean() / r.mean() - 1.0))
        width_g, width_r = g.std() / abs(g.mean()), r.std() / abs(r.mean())
        reso.append(abs(width_g / width_r - 1.0) if width_r > 0 else 0.0)
    if not resp:
        raise ConfigError("validation metric 'response': fewer than 5 validation showers per energy")
    return {"response_error": float(np.mean(resp)), "resolution_error": float(np.mean(reso))}
