"""``hepgan quickstart``: the whole loop in one command, on the built-in default data.

Simulate the photons of the ATLAS FastCaloGAN study on atlas266 (cached by config hash, so a
re-run reuses them), train the quickstart recipe (the flagship model, a fixed number of steps),
keep the checkpoint the validation metric picked, generate at the 9 trained energies plus the
left-out 25 GeV for the held-out reference showers' conditions, evaluate, write the HTML report,
and print the headline figures. The model does not depend on the machine's speed: a slow or busy
machine takes longer, and says so after the first steps; the recipe's time limit is only a guard,
and a run it stops is reported as cut short (and resumed by the next ``quickstart``).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hepgan.errors import ConfigError
from hepgan.train.callbacks import Callback

RECIPE = "quickstart.yaml"
PROMISE_S = 780.0  # the whole job on 2 idle cores, as the README states (measured: 12 min 36 s)
OUTSIDE_TRAINING_S = 75.0  # set-up (20 s) and evaluation with the report (52 s) in that measurement


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


class _Promise(Callback):
    """Tells the user at once when this machine will take well past the promised time."""

    def __init__(self, log):
        self.log = log

    def on_estimate(self, trainer, estimate) -> None:
        total = estimate.total_s + OUTSIDE_TRAINING_S
        if total <= 1.25 * PROMISE_S or estimate.cut_short:  # (the trainer's own warning covers the guard)
            return
        half = estimate.planned // 2
        self.log(f"quickstart: this machine trains at {estimate.steps_per_s:.2f} steps/s, so the whole job takes "
                 f"about {total / 60:.0f} min, not the {PROMISE_S / 60:.0f} min it takes on 2 idle cores (other "
                 f"processes on the cores, or a slower CPU). It still trains all {estimate.planned:,} steps, so the "
                 f"model and its figures are the recipe's. To finish sooner: free the cores, or train fewer steps "
                 f"(--fresh --set schedule.steps={half}: a worse model)")


def quickstart(run_dir: str | Path = "runs/quickstart", *, config: str | Path | None = None,
               fresh: bool = False, progress: bool = True, log=print, **overrides) -> QuickstartResult:
    """Run (or finish, or re-report) the quickstart; ``overrides`` are dotted config keys."""
    from hepgan.report import report
    from hepgan.train import load_train_config
    from hepgan.train import train as run_training
    from hepgan.train.checkpoint import CheckpointDir, load_checkpoint
    from hepgan.train.config import saved_fingerprint
    from hepgan.train.outcome import read_outcome
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
    marker = run_dir / "quickstart.json"  # written when training has run all its steps
    trained = True
    promise = [_Promise(log)]
    if checkpoints.last.exists():
        if saved_fingerprint(load_checkpoint(checkpoints.last)) != cfg.fingerprint():
            raise ConfigError(f"{run_dir} holds a run of a different config; use --fresh to replace it "
                              "or --run-dir to choose another directory")
        if marker.exists():
            log(f"quickstart: {run_dir} already holds the trained model; evaluating it again (--fresh retrains)")
            trained = False
        else:
            done = read_outcome(run_dir)
            why = "cut short by its time limit" if done and done.get("cut_short") else "interrupted"
            log(f"quickstart: resuming the run in {run_dir} ({why})")
            result = run_training(cfg, resume=True, callbacks=promise)
    else:
        guard = f"; stops early only past {cfg.schedule.time_limit_s / 60:.0f} min" if cfg.schedule.time_limit_s else ""
        log(f"quickstart: training {cfg.model.family} in {run_dir} ({cfg.schedule.steps:,} steps, about "
            f"{PROMISE_S / 60:.0f} min in all on 2 idle cores{guard})")
        result = run_training(cfg, callbacks=promise)
    if trained and not result.cut_short:
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
    from hepgan.train.outcome import cut_short_note, describe_outcome

    m = result.metrics
    run = m.get("run", {})
    best = run.get("best") or {}
    training = run.get("training")
    lines = [
        f"report:   {result.report}",
        f"metrics:  {result.report.with_name('metrics.json')}",
        f"model:    {result.run_dir / 'checkpoints'} (step {run.get('step')}"
        + (f", picked by {best['metric']} = {best['value']:.4g}" if best else "") + ")",
        "time:     " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()),
    ]
    if training:
        lines.append(f"training: {describe_outcome(training)}")
        if training["cut_short"]:
            lines.append("WARNING:  " + cut_short_note(training["steps"], training["planned"], training["time_limit_s"])
                         + "; or run the quickstart again, which resumes it")
    lines.append(format_summary(m))
    return "\n".join(lines)


__all__ = ["QuickstartResult", "headline", "quickstart", "recipe_path"]
