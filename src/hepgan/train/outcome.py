"""How a training run will end and how it ended: the estimate printed after its first steps
(speed, expected finish, whether its time guard would cut it short), and run.json (steps done of
planned, whether it was cut short, its speed and threads) for the summary, the report and
whoever picks the run up later."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from hepgan.data.files import temp_path_for

OUTCOME_FILE = "run.json"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


@dataclass(frozen=True)
class Estimate:
    """How fast a run trains and when it will end, measured on its first steps."""

    steps_per_s: float
    elapsed_s: float  # training time so far
    remaining_s: float  # to schedule.steps at this speed
    planned: int
    time_limit_s: float | None

    @property
    def total_s(self) -> float:
        return self.elapsed_s + self.remaining_s

    @property
    def cut_short(self) -> bool:
        """Whether the time guard would stop the run before its planned steps."""
        return self.time_limit_s is not None and self.total_s > self.time_limit_s

    def steps_within_limit(self) -> int:
        return int(self.steps_per_s * (self.time_limit_s or 0.0))

    @property
    def finish(self) -> str:
        """The wall-clock time (HH:MM) the run should end at."""
        return time.strftime("%H:%M", time.localtime(time.time() + self.remaining_s))

    def describe(self) -> str:
        text = (f"{self.steps_per_s:.2f} steps/s; {self.planned:,} steps take about {minutes(self.total_s)} "
                f"(until {self.finish})")
        if self.cut_short:
            within = self.steps_within_limit()
            text += (f"\nwarning: that is past schedule.time_limit_s ({minutes(self.time_limit_s)}): the run would "
                     f"stop near step {within:,} of {self.planned:,}, with a worse model than planned. Options: "
                     f"fewer steps (--set schedule.steps={within}), more time "
                     f"(--set schedule.time_limit_s={math.ceil(self.total_s * 1.2)}), or free cores")
        return text


def outcome_record(result, time_limit_s: float | None, thread_choice: dict | None) -> dict:
    """run.json's content for a finished training call (a TrainResult)."""
    return {
        "steps": result.steps,
        "planned": result.planned,
        "cut_short": result.cut_short,
        "time_limit_s": time_limit_s,
        "trained": result.trained,  # by the last call (a resumed run trained the rest before)
        "seconds": round(result.seconds, 1),  # of the last call, validation and checkpoints included
        "steps_per_s": round(result.trained / result.seconds, 3) if result.seconds > 0 else None,
        "threads": torch.get_num_threads(),
        "thread_choice": {str(k): round(v, 4) for k, v in thread_choice.items()} if thread_choice else None,
    }


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


__all__ = ["OUTCOME_FILE", "Estimate", "cut_short_note", "outcome_record", "describe_outcome", "minutes", "read_outcome", "write_outcome"]
