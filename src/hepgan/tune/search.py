"""``hepgan tune SEARCH.yaml``: hyperparameter search over a training config, on Optuna.

A search file::

    study: atlas266-lr            # the Optuna study name: workers with the same name share trials
    config: configs/atlas266-cwgan-gp.yaml
    run_dir: runs/tune-atlas266   # default runs/tune-<study>; trials train in RUN_DIR/trial-NNNN
    set: {schedule.steps: 4000}   # fixed overrides for every trial (dotted config paths)
    trials: 40                    # the study's trial budget (--trials overrides)
    objective: {metric: resolution_error, direction: minimize, reduce: best}
    space:
      optim.lr_g: {low: 1.0e-5, high: 1.0e-3, log: true}
      schedule.n_critic: {low: 1, high: 10}
      model.critic: [calo-d, "DENSE|128|LEAKYRELU, DENSE|1|LINEAR"]
    pruner: {kind: median, startup_trials: 5, warmup_steps: 1000}
    sampler: {kind: tpe, seed: 0}

The trial budget counts every trial in the study, whoever ran it: each worker stops starting
trials once the study holds ``trials`` of them (workers that check at the same moment may each
start one more, so a study can end up to workers - 1 over).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from hepgan.data.files import read_yaml_mapping
from hepgan.errors import ConfigError
from hepgan.strict import StrictModel
from hepgan.train import load_train_config
from hepgan.tune import runner, table
from hepgan.tune import storage as stores
from hepgan.tune.objective import ObjectiveSpec, check_objective
from hepgan.tune.space import (
    Parameter,
    field_annotation,
    parse_space,
    suggest_overrides,
)
from hepgan.tune.spec import SpecFile

KEYS = ["study", "config", "run_dir", "set", "trials", "objective", "space", "pruner", "sampler"]


class PrunerSpec(StrictModel):
    """``pruner:``: how unpromising trials are stopped on their intermediate validation metric."""

    kind: Literal["median", "percentile", "hyperband", "threshold", "none"] = "median"
    startup_trials: int = Field(5, ge=0, description="trials that run to the end before any is pruned")
    warmup_steps: int = Field(0, ge=0, description="training steps before a trial can be pruned")
    percentile: float = Field(25.0, gt=0.0, lt=100.0, description="percentile: keep trials in the best P %")
    min_resource: int | None = Field(None, ge=1, description="hyperband: steps of the shortest rung (default eval.every)")
    reduction_factor: int = Field(3, ge=2)
    lower: float | None = Field(None, description="threshold: prune below this value")
    upper: float | None = Field(None, description="threshold: prune above this value")

    def build(self, max_steps: int, eval_every: int):
        import optuna

        p = optuna.pruners
        if self.kind == "median":
            return p.MedianPruner(n_startup_trials=self.startup_trials, n_warmup_steps=self.warmup_steps)
        if self.kind == "percentile":
            return p.PercentilePruner(self.percentile, n_startup_trials=self.startup_trials,
                                      n_warmup_steps=self.warmup_steps)
        if self.kind == "hyperband":
            return p.HyperbandPruner(min_resource=self.min_resource or max(eval_every, 1), max_resource=max_steps,
                                     reduction_factor=self.reduction_factor)
        if self.kind == "threshold":
            return p.ThresholdPruner(lower=self.lower, upper=self.upper, n_warmup_steps=self.warmup_steps)
        return p.NopPruner()


class SamplerSpec(StrictModel):
    """``sampler:``: how trial values are chosen."""

    kind: Literal["tpe", "random"] = "tpe"
    seed: int | None = Field(None, ge=0, description="reproducible suggestions for a single local worker")
    startup_trials: int = Field(10, ge=0, description="tpe: random trials before the model kicks in")

    def build(self, seed: int | None):
        import optuna

        if self.kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.TPESampler(n_startup_trials=self.startup_trials, seed=seed)


@dataclass
class Search:
    """A parsed, checked search file."""

    path: Path
    name: str
    base: dict
    fixed: dict
    run_dir: Path
    trials: int
    objective: ObjectiveSpec
    space: list[Parameter]
    pruner: PrunerSpec
    sampler: SamplerSpec
    max_steps: int
    eval_every: int

    def description(self) -> dict:
        """What workers must agree on to share the study."""
        return {"objective": self.objective.metric, "direction": self.objective.direction,
                "space": {p.name: p.describe() for p in self.space}}


def _section(spec: SpecFile, key: str, model, default: dict | None = None):
    raw = spec.values.get(key, default or {})
    if not isinstance(raw, dict):
        raise spec.error((key,), "must be a mapping")
    try:
        return model(**raw)
    except ValidationError as exc:
        raise spec.validation_error(exc, (key,)) from None


def load_fixed(spec: SpecFile, key: str = "set", raw=None) -> dict:
    """A ``set:`` mapping of dotted training-config paths to values, each path checked."""
    raw = spec.values.get(key, {}) if raw is None else raw
    keys = (key,) if isinstance(key, str) else key
    if not isinstance(raw, dict):
        raise spec.error(keys, "must be a mapping of dotted config path: value, e.g. schedule.steps: 2000")
    for name in raw:
        try:
            field_annotation(str(name))
        except ConfigError as exc:
            raise spec.error((*keys, name), str(exc)) from None
    return dict(raw)


def load_search(path: str | Path) -> Search:
    """Parse and check a search file: unknown keys, config fields, ranges and metrics fail here."""
    spec = SpecFile(path, "search file")
    spec.check_keys(spec.values, KEYS)
    for key in ("study", "config", "objective", "space"):
        if key not in spec.values:
            raise spec.error((), f"missing {key!r} (a search file has: {', '.join(KEYS)})")
    name = spec.values["study"]
    if not isinstance(name, str) or not name.strip():
        raise spec.error(("study",), "must be a non-empty name")
    config_path = spec.resolve(str(spec.values["config"]), ("config",))
    base = read_yaml_mapping(config_path, "training config")
    fixed = load_fixed(spec)
    try:
        config = load_train_config(base, **fixed)
    except ConfigError as exc:
        raise spec.error(("set",) if fixed else ("config",), str(exc)) from None
    objective = _section(spec, "objective", ObjectiveSpec)
    problem = check_objective(objective, config)
    if problem:
        raise spec.error(("objective", "metric"), problem)
    space = parse_space(spec, spec.values["space"], base, fixed)
    trials = spec.values.get("trials", 20)
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise spec.error(("trials",), f"must be a positive integer, got {trials!r}")
    run_dir = spec.values.get("run_dir") or f"runs/tune-{name}"
    return Search(spec.path, name, base, fixed, Path(str(run_dir)), trials, objective, space,
                  _section(spec, "pruner", PrunerSpec), _section(spec, "sampler", SamplerSpec),
                  config.schedule.steps, config.eval.every)


@dataclass
class TuneResult:
    study: str
    storage: str
    objective: str
    counts: dict[str, int]
    best: dict | None
    tables: list[Path]


def tune(path: str | Path, *, trials: int | None = None, workers: int = 1, storage: str | None = None,
         report: bool = False, say: runner.Say = print) -> TuneResult:
    """Run (or join) the search of ``path`` until its study holds ``trials`` trials, then write the
    results table; with ``report`` only write the table of the study as it stands."""
    _quiet_optuna()
    search = load_search(path)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if trials is not None and trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}")
    url = storage or stores.default_storage(search.run_dir)
    store = stores.make_storage(url)
    if report:
        study = stores.load_existing_study(store, search.name, url)
        return _results(search, study, url)
    budget = trials or search.trials
    study, created = stores.open_study(store, search.name, search.objective.direction)
    if created:
        stores.publish(study, "search", search.description())
    else:
        stores.await_description(study, "search", search.description(), str(search.path))
    _warm_data_cache(search)
    shared = storage is not None
    if workers == 1:
        search_worker(str(search.path), url, budget, 0, 1, shared, say)
    else:
        runner.run_local_workers(runner.child_main, [(search_worker, str(search.path), url, budget, k, workers, shared)
                                                     for k in range(workers)], say)
    return _results(search, study, url)


def search_worker(path: str, url: str, budget: int, index: int, workers: int, shared: bool,
                  say: runner.Say | None = None) -> None:
    """One worker: take trials until the study holds ``budget`` of them."""
    _quiet_optuna()
    search = load_search(path)
    say = say or runner.printer(f"worker {index}")
    seed = search.sampler.seed
    if seed is not None and (workers > 1 or shared):  # one seed for all would repeat the same suggestions
        seed = (seed + 7919 * index + zlib.crc32(runner.worker_name().encode())) % 2**31
    store = stores.make_storage(url)
    study, _ = stores.open_study(store, search.name, search.objective.direction,
                                 sampler=search.sampler.build(seed),
                                 pruner=search.pruner.build(search.max_steps, search.eval_every))
    stores.await_description(study, "search", search.description(), str(search.path))
    threads = runner.local_threads(search.fixed.get("threads", search.base.get("threads")), workers)
    fixed = {**search.fixed, "log.progress": False, **({"threads": threads} if threads else {})}
    streak = 0
    while len(study.get_trials(deepcopy=False)) < budget:
        trial = study.ask()
        overrides = suggest_overrides(search.space, trial)
        shown = ", ".join(f"{k}={table.format_value(v)}" for k, v in overrides.items())
        say(f"trial {trial.number}: {shown}")
        state, summary = runner.run_trial(study, trial, search.base, {**fixed, **overrides}, search.objective,
                                          search.objective.pruning_metric, search.run_dir)
        say(f"trial {trial.number}: {state} {summary}")
        streak = runner.check_failures(state, summary, streak)


def _results(search: Search, study, url: str) -> TuneResult:
    rows = table.trial_records(study)
    paths = table.write_trials_table(rows, search.run_dir, f"hepgan tune: study {search.name}",
                                     search.objective.metric, search.objective.direction)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    done = [r for r in rows if r["state"] == "COMPLETE" and r["objective"] is not None]
    best = None
    if done:
        pick = min if search.objective.direction == "minimize" else max
        best = pick(done, key=lambda r: r["objective"])
    return TuneResult(search.name, stores.shown_url(url), search.objective.metric, counts, best, paths)


def _warm_data_cache(search: Search) -> None:
    """Simulate a ``data.simulate`` data set once here, not in every worker at the same time."""
    if any(p.name.startswith("data.") for p in search.space):
        return
    config = load_train_config(search.base, **search.fixed)
    if getattr(config.data, "simulate", None) is not None:
        from hepgan.train.data import load_shower_source

        load_shower_source(config.data)


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


__all__ = ["PrunerSpec", "SamplerSpec", "Search", "TuneResult", "load_fixed", "load_search", "search_worker", "tune"]
