"""``hepgan quickstart``: the whole loop in one command, on the built-in default data.

Simulate the seed's photons on atlas266 (cached by config hash, so a re-run reuses them), train
the quickstart recipe (the flagship model, with a time budget), keep the checkpoint the validation
metric picked, generate at the 9 trained energies plus the left-out 25 GeV for the held-out
reference showers' conditions, evaluate, write the HTML report, and print the headline figures.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hepgan.errors import ConfigError

RECIPE = "quickstart.yaml"


def recipe_path(name: str = RECIPE) -> Path:
    """A recipe shipped with the package (``hepgan/recipes/NAME``)."""
    path = Path(str(resources.files("hepgan.recipes").joinpath(name)))
    if not path.exists():
        raise ConfigError(f"no shipped recipe {name!r}")
    return path


@dataclass
class QuickstartResult:
    run_dir: Path
    report: Path
    metrics: dict
    trained: bool
    seconds: dict[str, float]


def quickstart(run_dir: str | Path = "runs/quickstart", *, config: str | Path | None = None,
               fresh: bool = False, progress: bool = True, log=print, **overrides) -> QuickstartResult:
    """Run (or finish, or re-report) the quickstart; ``overrides`` are dotted config keys."""
    from hepgan.report import report
    from hepgan.train import load_train_config
    from hepgan.train import train as run_training
    from hepgan.train.checkpoint import CheckpointDir, load_checkpoint
    from hepgan.train.config import saved_fingerprint
    from hepgan.train.data import load_shower_source

    run_dir = Path(run_dir)
    cfg = load_train_config(config or recipe_path(), run_dir=str(run_dir), **{"log.progress": progress, **overrides})
    seconds: dict[str, float] = {}
    checkpoints = CheckpointDir(run_dir / "checkpoints")
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)

    t = time.perf_counter()
    if cfg.data.simulate is None:
        log(f"quickstart: data: {cfg.data.path} ...")
    else:
        log(f"quickstart: data: reference-simulator showers ({'cached' if _cached(cfg) else 'simulating, once'}) ...")
    load_shower_source(cfg.data)
    seconds["data"] = time.perf_counter() - t

    t = time.perf_counter()
    marker = run_dir / "quickstart.json"  # written when training has finished (all steps or the time budget)
    trained = True
    if checkpoints.last.exists():
        if saved_fingerprint(load_checkpoint(checkpoints.last)) != cfg.fingerprint():
            raise ConfigError(f"{run_dir} holds a run of a different config; use --fresh to replace it "
                              "or --run-dir to choose another directory")
        if marker.exists():
            log(f"quickstart: {run_dir} already holds the trained model; evaluating it again (--fresh retrains)")
            trained = False
        else:
            log(f"quickstart: resuming the interrupted run in {run_dir}")
            run_training(cfg, resume=True)
    else:
        budget = f" or {cfg.schedule.time_limit_s / 60:.1f} min" if cfg.schedule.time_limit_s else ""
        log(f"quickstart: training {cfg.model.family} in {run_dir} (at most {cfg.schedule.steps} steps{budget})")
        run_training(cfg)
    if trained:
        marker.write_text(json.dumps({"fingerprint": cfg.fingerprint()}))
    seconds["train"] = time.perf_counter() - t

    t = time.perf_counter()
    log("quickstart: generating at every energy (incl. the left-out ones) and evaluating against held-out showers ...")
    # the held-out split has ~1,000 showers per trained energy, too few to check a width to 5 %:
    # the response table also gets as many fresh simulated showers per energy as the data set has
    fresh = cfg.data.simulate.events_per_energy if cfg.data.simulate is not None else 0
    page = report(run_dir, response_reference=fresh)
    seconds["evaluate"] = time.perf_counter() - t
    metrics = json.loads(page.with_name("metrics.json").read_text())
    return QuickstartResult(run_dir, page, metrics, trained, seconds)


def _cached(cfg) -> bool:
    from hepgan.train.data import simulation_cache_path

    return simulation_cache_path(cfg.data).exists()


def headline(result: QuickstartResult) -> str:
    """The figures a user looks at first, with where the rest is."""
    from hepgan.metrics.physics.evaluate import format_summary

    m = result.metrics
    run = m.get("run", {})
    best = run.get("best") or {}
    lines = [
        f"report:   {result.report}",
        f"metrics:  {result.report.with_name('metrics.json')}",
        f"model:    {result.run_dir / 'checkpoints'} (step {run.get('step')}"
        + (f", picked by {best['metric']} = {best['value']:.4g}" if best else "") + ")",
        "time:     " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()),
        format_summary(m),
    ]
    return "\n".join(lines)


__all__ = ["QuickstartResult", "headline", "quickstart", "recipe_path"]
