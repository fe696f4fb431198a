"""run.json: how a training run ended (steps done of planned, whether its time guard cut it short,
its speed and threads), for the summary, the report and whoever picks the run up later."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hepgan.data.files import temp_path_for

OUTCOME_FILE = "run.json"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def cut_short_note(steps: int, planned: int, time_limit_s: float | None) -> str:
    """What a user must know about a run its time guard stopped."""
    return (f"cut short by schedule.time_limit_s ({minutes(time_limit_s or 0.0)}) after {steps:,} of {planned:,} "
            "planned steps: this model trained less than its recipe and is worse than the recipe's figures; "
            "resume it to finish (hepgan train RUN_DIR/config.yaml --resume)")


def describe_outcome(outcome: dict) -> str:
    """One line: steps done of planned, and how long the last training call took at what speed."""
    steps, planned, trained = outcome["steps"], outcome["planned"], outcome.get("trained", outcome["steps"])
    which = "" if trained == steps else f"the last {trained:,} "
    speed = f", {outcome['steps_per_s']:.2f} steps/s" if outcome.get("steps_per_s") else ""
    return (f"{steps:,} of {planned:,} steps ({which}in {outcome['seconds']:.0f} s on {outcome['threads']} "
            f"CPU thread{'s' if outcome['threads'] > 1 else ''}{speed})")


def write_outcome(run_dir: str | Path, outcome: dict) -> Path:
    """Write run.json atomically."""
    path = Path(run_dir) / OUTCOME_FILE
    tmp = temp_path_for(path)
    tmp.write_text(json.dumps(outcome, indent=1))
    os.replace(tmp, path)
    return path


def read_outcome(run_dir: str | Path) -> dict | None:
    """The run.json a training run wrote when it ended (None for a run that has not ended yet, or
    one from before run.json)."""
    try:
        return json.loads((Path(run_dir) / OUTCOME_FILE).read_text())
    except (OSError, ValueError):
        return None


__all__ = ["OUTCOME_FILE", "cut_short_note", "describe_outcome", "minutes", "read_outcome", "write_outcome"]
