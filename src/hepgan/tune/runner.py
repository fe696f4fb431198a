"""The engine shared by ``hepgan tune`` and ``hepgan study``: train one trial in its own run
directory, and the worker loops that take trials from a study until there are none left.

A trial's user attributes hold what the tables need, so a table can be written from the storage
alone, wherever the trials ran: ``run_dir``, ``worker`` (host:pid), ``metrics`` (the final
validation metrics, plus ``evaluate.*`` when that is the objective), ``steps``, ``wall_s``, and
``error`` or ``note``. A trial whose training fails with a user error (a config the suggested
values make impossible, NaN losses) is recorded as FAIL and the worker moves on; a worker gives
up after three such failures in a row, since then the setup is broken, not the trial. Anything
else (a bug, Ctrl-C) marks the trial FAIL and stops the worker.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hepgan.data.files import one_line
from hepgan.errors import ConfigError, HepganError
from hepgan.train import Trainer, load_train_config
from hepgan.tune.objective import (
    ObjectiveSpec,
    PruneOnValidation,
    ValidationHistory,
    final_metrics,
    objective_value,
)

Say = Callable[[str], None]
MAX_FAILURES_IN_A_ROW = 3
_DATA_CACHE: dict[str, object] = {}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def trial_dir(root: Path, number: int) -> Path:
    return Path(root) / f"trial-{number:04d}"


def _prepared_data(config):
    """The run's data, reused by the next trial when data, preprocessing and seed are the same."""
    from hepgan.train.data import prepare_data

    key = json.dumps([config.data.model_dump(mode="json"), config.preprocessing, config.seed], sort_keys=True)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = prepare_data(config)
    return _DATA_CACHE[key]


def run_trial(study, trial, values: dict, overrides: dict, objective: ObjectiveSpec | None,
              prune_on: str | None, root: Path) -> tuple[str, str]:
    """Train ``values`` + ``overrides`` as ``trial`` and tell the study how it went: (state, summary)."""
    import optuna
    from optuna.trial import TrialState

    run_dir = trial_dir(root, trial.number)
    trial.set_user_attr("run_dir", str(run_dir))
    trial.set_user_attr("worker", worker_name())
    start = time.perf_counter()

    def finish(state, value=None, **attrs) -> None:
        for key, attr in {**attrs, "wall_s": round(time.perf_counter() - start, 3)}.items():
            trial.set_user_attr(key, attr)
        study.tell(trial, value, state=state)

    trainer = None
    try:
        config = load_train_config(values, **{**overrides, "run_dir": str(run_dir)})
        data = _prepared_data(config)
        start = time.perf_counter()  # wall time of training and scoring, not of (cached) data preparation
        history = ValidationHistory()
        callbacks = [history] + ([PruneOnValidation(trial, prune_on)] if prune_on else [])
        trainer = Trainer(config, callbacks, data=data)
        trainer.fit()
        metrics = final_metrics(trainer, history)
        value = objective_value(objective, trainer, history, metrics) if objective else None
    except optuna.TrialPruned as exc:
        finish(TrialState.PRUNED, note=str(exc), steps=trainer.step if trainer else None)
        return "PRUNED", str(exc)
    except HepganError as exc:
        finish(TrialState.FAIL, error=one_line(exc))
        return "FAIL", one_line(exc)
    except BaseException as exc:
        finish(TrialState.FAIL, error=f"{type(exc).__name__}: {one_line(exc)}")
        raise
    if objective is not None and objective.is_evaluation:
        metrics[objective.metric] = value
    wall = round(time.perf_counter() - start, 3)
    if value is None:
        value = wall  # a study without an objective: the trial's value is its wall time
    if not math.isfinite(value):
        finish(TrialState.FAIL, metrics=metrics, steps=trainer.step, error=f"objective {objective.metric} is {value}")
        return "FAIL", f"objective {objective.metric} is {value}"
    finish(TrialState.COMPLETE, value, metrics=metrics, steps=trainer.step)
    name = objective.metric if objective else "wall_s"
    return "COMPLETE", f"{name} = {value:.4g}"


def check_failures(state: str, summary: str, streak: int) -> int:
    """Count failures in a row; raise when the setup, not one trial, is evidently broken."""
    streak = streak + 1 if state == "FAIL" else 0
    if streak >= MAX_FAILURES_IN_A_ROW:
        raise ConfigError(f"{streak} trials in a row failed; the last: {summary}")
    return streak


def local_threads(config_threads: int | None, workers: int) -> int | None:
    """Torch threads per trial when ``workers`` trials share this machine (None: torch's default)."""
    if config_threads is not None or workers <= 1:
        return config_threads
    return max(1, (os.cpu_count() or 1) // workers)


def run_local_workers(target, args_per_worker: list[tuple], say: Say) -> None:
    """Run ``target(*args)`` in one fresh process per entry (spawned: no forked torch state)."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args, name=f"hepgan-worker-{i}") for i, args in enumerate(args_per_worker)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
        raise
    bad = [f"worker {i} (exit code {p.exitcode})" for i, p in enumerate(procs) if p.exitcode != 0]
    if bad:
        raise ConfigError(f"{', '.join(bad)} failed; its error is printed above")


def child_main(fn, *args) -> None:
    """Entry of a local worker process: user errors end it with one line, not a traceback."""
    try:
        fn(*args)
    except HepganError as exc:
        print(f"hepgan worker {os.getpid()}: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def printer(label: str) -> Say:
    return lambda line: print(f"[{label}] {line}", flush=True)


__all__ = ["check_failures", "child_main", "local_threads", "printer", "run_local_workers", "run_trial", "trial_dir",
           "worker_name"]
