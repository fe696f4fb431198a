"""``hepgan study STUDY.yaml``: train a list of configs x seeds and report mean +- spread per config.

The same engine as ``hepgan tune`` (Optuna storage, workers on any number of machines, one run
directory per trial), with a fixed job list instead of a sampler: the worker that creates the
study enqueues one trial per (config, seed), every worker pops waiting trials until none is
left. A study file::

    study: mnist-families
    run_dir: runs/study-mnist          # default runs/study-<study>
    seeds: [1, 2, 3]                   # or a count: N seeds from each config's own seed on
    set: {schedule.steps: 5000}        # overrides for every config (dotted paths)
    configs:
      - configs/mnist-gan.yaml         # named after the file: mnist-gan
      - {path: configs/mnist-cgan.yaml, name: cgan-long, seeds: [1], set: {schedule.steps: 20000}}
    objective: {metric: inception_score, direction: maximize}   # optional: the trials' value

The tables collect each run's final validation metrics (whatever its ``eval.metrics`` compute),
its wall time and steps: ``runs.md/.csv/.png`` per trial and ``summary.md/.csv/.png`` per config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hepgan.data.files import read_yaml_mapping
from hepgan.errors import ConfigError
from hepgan.train import load_train_config
from hepgan.tune import runner, table
from hepgan.tune import storage as stores
from hepgan.tune.objective import ObjectiveSpec, check_objective
from hepgan.tune.search import _quiet_optuna, _section, load_fixed
from hepgan.tune.spec import SpecFile

KEYS = ["study", "run_dir", "seeds", "set", "configs", "objective"]
ENTRY_KEYS = ["path", "name", "seeds", "set"]


@dataclass
class Job:
    name: str
    seed: int
    values: dict = field(repr=False)
    overrides: dict = field(repr=False)


@dataclass
class Study:
    path: Path
    name: str
    run_dir: Path
    configs: list[str]
    jobs: list[Job]
    objective: ObjectiveSpec | None

    def description(self) -> list[dict]:
        return [{"config": j.name, "seed": j.seed} for j in self.jobs]


def _seeds(spec: SpecFile, keys: tuple, raw, own_seed: int) -> list[int]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw < 1:
            raise spec.error(keys, f"a seed count must be at least 1, got {raw}")
        return list(range(own_seed, own_seed + raw))
    if (not isinstance(raw, list) or not raw
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw)):
        raise spec.error(keys, f"give a list of non-negative integer seeds or a count, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise spec.error(keys, "lists a seed twice")
    return list(raw)


def load_study(path: str | Path) -> Study:
    """Parse and check a study file; every (config, seed) is loaded as a training config here."""
    spec = SpecFile(path, "study file")
    spec.check_keys(spec.values, KEYS)
    for key in ("study", "configs"):
        if key not in spec.values:
            raise spec.error((), f"missing {key!r} (a study file has: {', '.join(KEYS)})")
    name = spec.values["study"]
    if not isinstance(name, str) or not name.strip():
        raise spec.error(("study",), "must be a non-empty name")
    common = load_fixed(spec)
    objective = _section(spec, "objective", ObjectiveSpec) if "objective" in spec.values else None
    entries = spec.values["configs"]
    if not isinstance(entries, list) or not entries:
        raise spec.error(("configs",), "must be a non-empty list of config files (or {path, name, seeds, set})")
    jobs, names = [], []
    for i, entry in enumerate(entries):
        keys = ("configs", i)
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry:
            raise spec.error(keys, "give a config file, or a mapping with path: (and optional name, seeds, set)")
        spec.check_keys(entry, ENTRY_KEYS, keys)
        config_path = spec.resolve(str(entry["path"]), (*keys, "path"))
        label = str(entry.get("name") or config_path.stem)
        if label in names:
            raise spec.error(keys, f"config name {label!r} is used twice; give one a name:")
        names.append(label)
        values = read_yaml_mapping(config_path, "training config")
        overrides = {**common, **load_fixed(spec, (*keys, "set"), entry.get("set", {}))}
        try:
            config = load_train_config(values, **overrides)
        except ConfigError as exc:
            raise spec.error(keys, str(exc)) from None
        if objective is not None:
            problem = check_objective(objective, config)
            if problem:
                raise spec.error(("objective", "metric"), f"config {label!r}: {problem}")
        seed_keys = (*keys, "seeds") if "seeds" in entry else ("seeds",)
        for seed in _seeds(spec, seed_keys, entry.get("seeds", spec.values.get("seeds", 1)), config.seed):
            jobs.append(Job(label, seed, values, {**overrides, "seed": seed}))
    run_dir = spec.values.get("run_dir") or f"runs/study-{name}"
    return Study(spec.path, name, Path(str(run_dir)), names, jobs, objective)


@dataclass
class StudyResult:
    study: str
    storage: str
    counts: dict[str, int]
    tables: list[Path]


def study(path: str | Path, *, workers: int = 1, storage: str | None = None, report: bool = False,
          say: runner.Say = print) -> StudyResult:
    """Train every (config, seed) of ``path`` (joining workers elsewhere), then write the tables;
    with ``report`` only write the tables of the study as it stands."""
    _quiet_optuna()
    spec = load_study(path)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    url = storage or stores.default_storage(spec.run_dir)
    store = stores.make_storage(url)
    if report:
        return _results(spec, stores.load_existing_study(store, spec.name, url), url)
    study_, _ = _open(spec, store)
    if workers == 1:
        study_worker(str(spec.path), url, 0, 1, say)
    else:
        runner.run_local_workers(runner.child_main, [(study_worker, str(spec.path), url, k, workers)
                                                     for k in range(workers)], say)
    return _results(spec, study_, url)


def _open(spec: Study, store, sampler=None):
    direction = spec.objective.direction if spec.objective else "minimize"
    study_, created = stores.open_study(store, spec.name, direction, sampler=sampler)
    if created:  # only the creating worker fills the queue, so every job is queued once
        for i, job in enumerate(spec.jobs):
            study_.enqueue_trial({}, user_attrs={"job": i, "config": job.name, "seed": job.seed})
        stores.publish(study_, "jobs", spec.description())
    else:
        stores.await_description(study_, "jobs", spec.description(), str(spec.path))
    return study_, created


def study_worker(path: str, url: str, index: int, workers: int, say: runner.Say | None = None) -> None:
    """One worker: train queued (config, seed) trials until the queue is empty."""
    import optuna

    _quiet_optuna()
    spec = load_study(path)
    say = say or runner.printer(f"worker {index}")
    store = stores.make_storage(url)
    study_, _ = _open(spec, store, sampler=optuna.samplers.RandomSampler())
    threads = runner.local_threads(None, workers)
    streak = 0
    while (trial_id := _pop_waiting(store, study_, url)) is not None:
        trial = optuna.Trial(study_, trial_id)
        job = spec.jobs[trial.user_attrs["job"]]
        say(f"trial {trial.number}: {job.name} seed {job.seed}")
        overrides = {**job.overrides, "log.progress": False}
        if threads and "threads" not in overrides and not job.values.get("threads"):
            overrides["threads"] = threads
        state, summary = runner.run_trial(study_, trial, job.values, overrides, spec.objective,
                                          None, spec.run_dir)
        say(f"trial {trial.number}: {state} {summary}")
        streak = runner.check_failures(state, summary, streak)


def _pop_waiting(store, study_, url: str) -> int | None:
    """Claim a queued trial (the storage refuses a second claim), or None when none is left."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    study_id = store.get_study_id_from_name(study_.study_name)
    with stores.claim_lock(url):
        for t in store.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
            trial_id = store.get_trial_id_from_study_id_trial_number(study_id, t.number)
            try:
                if store.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                    return trial_id
            except UpdateFinishedTrialError:
                continue
    return None


def _results(spec: Study, study_, url: str) -> StudyResult:
    rows = table.trial_records(study_)
    objective = spec.objective.metric if spec.objective else None
    direction = spec.objective.direction if spec.objective else "minimize"
    paths = table.write_trials_table(rows, spec.run_dir, f"hepgan study {spec.name}: runs", objective, direction,
                                     with_metrics=True, stem="runs")
    paths += table.write_summary(rows, spec.run_dir, f"hepgan study {spec.name}", order=spec.configs)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return StudyResult(spec.name, stores.shown_url(url), counts, paths)


__all__ = ["Job", "Study", "StudyResult", "load_study", "study", "study_worker"]
