"""Lazy gradient penalties (`model.gp_every`): generator steps/s of the quickstart recipe with the
penalties on every critic update (the baseline) and on every k-th one, in the same process,
alternating repeats so machine noise hits both alike. Prints the median steps/s and the ratio.

The double backward of WGAN-GP's penalty costs about as much as the rest of a critic update, so
penalising 1 in 3 updates should give ~1.3x the steps in a time budget. Whether the model is as
good per step is a training question (docs/flagship.md), not this script's.

Usage: python benchmarks/bench_lazy_penalty.py [--steps 100] [--repeats 3] [--every 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from hepgan.data.hdf5 import write_showers
from hepgan.quickstart import recipe_path
from hepgan.sim import simulate
from hepgan.train import Trainer, load_train_config


def make_config(workdir: Path, steps: int, run: str, every: int) -> dict:
    config = yaml.safe_load(recipe_path().read_text())
    config.update(run_dir=str(workdir / run), eval={"every": 0}, checkpoint={"every": 10**9},
                  log={"every": 50, "progress": False})
    config["data"] = {"kind": "showers", "path": str(workdir / "showers.h5"),
                      "conditions": config["data"]["conditions"], "validation_fraction": 0.0}
    config["model"]["gp_every"] = every
    config["schedule"] = {**config["schedule"], "steps": steps, "time_limit_s": None}
    return config


def steps_per_s(workdir: Path, steps: int, run: str, every: int) -> float:
    trainer = Trainer(load_train_config(make_config(workdir, steps, run, every)))
    start = time.perf_counter()
    trainer.fit()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, default=3, help="k: penalise every k-th critic update")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_showers(workdir / "showers.h5", simulate(energies_gev=[1, 4, 16, 65, 262], events_per_energy=2000,
                                                      seed=1))
        every_update, lazy = [], []
        for r in range(args.repeats):
            every_update.append(steps_per_s(workdir, args.steps, f"every{r}", 1))
            lazy.append(steps_per_s(workdir, args.steps, f"lazy{r}", args.every))
        base, fast = statistics.median(every_update), statistics.median(lazy)
        print(f"quickstart recipe (calo_wgan, n_critic 3, batch 256), {torch.get_num_threads()} threads, "
              f"{args.steps} steps x {args.repeats} repeats (alternating)")
        print(f"  penalty on every update:  {base:6.2f} generator steps/s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in every_update)})")
        print(f"  penalty on 1 in {args.every}:        {fast:6.2f} generator steps/s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in lazy)})")
        print(f"  ratio lazy / every update: {fast / base:.3f}")


if __name__ == "__main__":
    main()
