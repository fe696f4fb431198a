"""What a trial is scored by, and the trainer callbacks that watch it.

An objective is a validation metric the trainer computes (``resolution_error`` from the
``response`` metric, ``inception_score`` from ``inception``, ...) taken at its best or its last
validation, or a metric of the final evaluation, ``evaluate.<key>`` with a key of the summary of
:func:`hepgan.metrics.physics.evaluate_files` (``auc_high_level``, ``fpd``, ...): the run's selected
generator against its validation showers. Trials are pruned on a validation metric, reported to the
Optuna trial at every validation; :class:`PruneOnValidation` raises ``optuna.TrialPruned``
from ``on_validation``, which the trainer lets through after closing its log (the run keeps its
last checkpoint), so the trial stops cleanly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from hepgan.errors import ConfigError
from hepgan.strict import StrictModel
from hepgan.geometry.base import DERIVED_CONDITIONS
from hepgan.train import Callback, TrainConfig
from hepgan.train.validation import list_validation_metrics

EVALUATE_KEYS = ("auc_high_level", "auc_low_level", "fpd", "kpd", "mean_separation_power",
                 "mean_separation_power_per_energy")
EVALUATE_PREFIX = "evaluate."


class ObjectiveSpec(StrictModel):
    """``objective:`` of a search (or, optional, of a study) file."""

    metric: str
    direction: Literal["minimize", "maximize"] = "minimize"
    reduce: Literal["best", "last"] = Field("best", description="validation metrics: best or last value of the run")
    prune_on: str | None = Field(None, description="validation metric reported for pruning (default: the objective's)")
    max_events: int = Field(20_000, ge=20, description="evaluate.*: validation showers compared at most")
    seed: int = Field(0, ge=0, description="evaluate.*: seed of the generated showers and the classifiers")

    @property
    def is_evaluation(self) -> bool:
        return self.metric.startswith(EVALUATE_PREFIX)

    @property
    def pruning_metric(self) -> str | None:
        return self.prune_on or (None if self.is_evaluation else self.metric)


def validation_outputs(config: TrainConfig) -> dict[str, str]:
    """Each validation output the config's ``eval.metrics`` produce, mapped to its metric's name."""
    known = list_validation_metrics()
    return {out: name for name in config.eval.metrics for out in known[name]}


def check_objective(objective: ObjectiveSpec, config: TrainConfig) -> str | None:
    """None when ``config`` can produce the objective (and its pruning metric); else the reason."""
    produced = validation_outputs(config)
    known = {out: name for name, outs in list_validation_metrics().items() for out in outs}
    for role, metric in (("metric", objective.metric), ("prune_on", objective.prune_on)):
        if metric is None:
            continue
        if metric.startswith(EVALUATE_PREFIX):
            key = metric[len(EVALUATE_PREFIX):]
            if role == "prune_on":
                return f"prune_on must be a validation metric, not {metric!r} (evaluation runs once, at the end)"
            if key not in EVALUATE_KEYS:
                return f"unknown evaluation metric {metric!r}; valid: {', '.join(EVALUATE_PREFIX + k for k in EVALUATE_KEYS)}"
            if config.data.kind != "showers":
                return f"{metric!r} evaluates showers; this config trains on {config.data.kind}"
            continue
        if metric not in known:
            valid = sorted(known) + [EVALUATE_PREFIX + k for k in EVALUATE_KEYS]
            return f"unknown metric {metric!r}; valid: {', '.join(valid)}"
        if metric not in produced:
            return (f"{metric!r} comes from the validation metric {known[metric]!r}, which the training config does "
                    f"not compute (eval.metrics: {config.eval.metrics}); add it, e.g. set: "
                    f"{{eval.metrics: [{known[metric]}], eval.every: 500}}")
    return None


def is_better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "minimize" else a > b


class ValidationHistory(Callback):
    """Keeps every validation of a run: (step, metrics)."""

    def __init__(self):
        self.records: list[tuple[int, dict[str, float]]] = []

    def on_validation(self, trainer, step: int, metrics: dict[str, float]) -> None:
        self.records.append((step, dict(metrics)))


class PruneOnValidation(Callback):
    """Reports a validation metric to an Optuna trial and stops the run when the pruner says so."""

    def __init__(self, trial, metric: str):
        self.trial = trial
        self.metric = metric

    def on_validation(self, trainer, step: int, metrics: dict[str, float]) -> None:
        import optuna

        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.trial.set_user_attr("note", f"pruned at step {step} ({self.metric} = {value:.4g})")
            raise optuna.TrialPruned(f"pruned at step {step}: {self.metric} = {value:.4g}")


@dataclass
class RunOutcome:
    """What one finished training run yields: its final validation metrics and the objective."""

    metrics: dict[str, float]
    value: float | None
    steps: int


def final_metrics(trainer, history: ValidationHistory) -> dict[str, float]:
    """The validation metrics at the run's last step (validating once more if the schedule did not)."""
    if not trainer.config.eval.metrics:
        return {}
    if history.records and history.records[-1][0] == trainer.step:
        return dict(history.records[-1][1])
    return trainer.validate()


def objective_value(objective: ObjectiveSpec, trainer, history: ValidationHistory, final: dict[str, float]) -> float:
    if objective.is_evaluation:
        key = objective.metric[len(EVALUATE_PREFIX):]
        return evaluate_run(trainer, [key], objective.max_events, objective.seed)[key]
    values = [m[objective.metric] for _, m in history.records if math.isfinite(m.get(objective.metric, math.nan))]
    last = final.get(objective.metric, math.nan)
    if math.isfinite(last):
        values.append(last)
    if not values:
        return math.nan
    if objective.reduce == "last":
        return last
    return min(values) if objective.direction == "minimize" else max(values)


def evaluate_run(trainer, keys: list[str], max_events: int, seed: int) -> dict[str, float]:
    """Summary metrics of :func:`hepgan.metrics.physics.evaluate_files` for the run's selected
    generator (best checkpoint, else last) against the run's validation showers."""
    import numpy as np

    from hepgan.data.showers import ShowerData
    from hepgan.metrics.physics.files import evaluate_files
    from hepgan.train.generator import TrainedGenerator

    data = trainer.data
    val = data.val or data.train
    n = min(len(val), max_events)
    if n < 20:
        raise ConfigError(f"evaluation needs at least 20 validation showers, the run has {n}")
    conditions = {k: v[:n] for k, v in val.physical.items()}
    generator = TrainedGenerator.from_run(Path(trainer.run_dir))
    generated = generator.generate_showers(conditions, seed=seed)
    energies = val.energies_mev[:n]
    extra = {k: v for k, v in conditions.items() if k != "energy" and k not in DERIVED_CONDITIONS}
    reference = ShowerData(data.to_physical(val.x[:n].numpy(), energies).astype(np.float32), energies, extra,
                           data.geometry, source="validation showers")
    generated.conditions = {k: v for k, v in generated.conditions.items() if k in extra}
    result = evaluate_files(generated, reference, classifier=any(k.startswith("auc") for k in keys),
                      per_energy="mean_separation_power_per_energy" in keys,
                      seed=seed)
    summary = result["summary"]
    return {k: float(summary[k]) if summary.get(k) is not None else math.nan for k in keys}


__all__ = ["EVALUATE_KEYS", "ObjectiveSpec", "PruneOnValidation", "RunOutcome", "ValidationHistory",
           "check_objective", "evaluate_run", "final_metrics", "is_better", "objective_value"]
