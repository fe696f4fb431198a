"""CaloChallenge recipes: training step time and generation speed, with calo_wgan on dataset 1 beside them.

For each recipe (configs/calochallenge-*.yaml, the layered family) and for the calo_wgan network
of the atlas266 flagship put on the dataset-1 binning, on a small simulated sample:

* the median time of one training step (n_critic critic updates + one generator update, the
  recipe's batch) on the threads given, after warm-up; and
* generation at batch 10,000 in one process, ms/shower from noise and encoded conditions to
  model-space cells (the part that depends on the network).

Speed does not depend on the weights, so the models are trained for no steps. Targets
(ms/shower at batch 10,000): ds1 <= 0.05, ds2 <= 0.5, ds3 <= 3.

Usage: python benchmarks/bench_calochallenge.py [--threads 2] [--repeats 5] [--only 1-photons,2,3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from hepgan.train import load_train_config
from hepgan.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = {"1-photons": 0.05, "2": 0.5, "3": 3.0}
BATCH = 10_000
CALO_WGAN = {  # the atlas266 flagship's calo_wgan networks on the dataset-1 binning
    "model.family": "calo_wgan",
    "model.generator": "CONCAT, DENSE|256|SWISH, DENSE|512|SWISH, DENSE|512|SWISH, DENSE|374|LINEAR",
    "model.critic": "CONCAT, DENSE|512|LEAKYRELU:0.2, DENSE|512|LEAKYRELU:0.2, DENSE|256|LEAKYRELU:0.2, DENSE|1|LINEAR",
    "model.latent_dim": 64, "model.summary_critic": {"gp_weight": 10.0},
    "model.calo": {"eps_cell": "adaptive", "shape_summaries": True, "moment_weight": 10.0, "knots": 33},
    "model.layered": {},  # back to the defaults, which calo_wgan accepts
}


def measure(name: str, overrides: dict, threads: int, repeats: int, workdir: Path) -> dict:
    path = ROOT / "configs" / f"calochallenge-{name}.yaml"
    sim = load_train_config(path).data.simulate
    base = {"run_dir": str(workdir / "run"), "threads": threads, "data.cache_dir": str(workdir / "cache"),
            "data.simulate.n_events": 2000 if sim.geometry != "calochallenge-3" else 600, "log.progress": False,
            "eval.every": 0, "eval.metrics": [], "eval.select": None}
    trainer = Trainer(load_train_config(path, **base, **overrides))
    torch.set_num_threads(threads)
    for _ in range(2):
        trainer.train_step()
    steps = []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.train_step()
        steps.append(time.perf_counter() - start)
    generator = trainer.model.generator.eval()
    cond = trainer.data.train.cond[torch.randint(len(trainer.data.train), (BATCH,))]
    times = []
    with torch.no_grad():
        generator(trainer.model.sample_latent(100), cond[:100])
        for _ in range(repeats):
            z = trainer.model.sample_latent(BATCH)
            start = time.perf_counter()
            generator(z, cond)
            times.append(time.perf_counter() - start)
    return {"step_s": statistics.median(steps), "ms_per_shower": 1000 * statistics.median(times) / BATCH,
            "batch": trainer.config.schedule.batch_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="1-photons,2,3")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            rows.append((f"ds{name} layered_wgan", name, measure(name, {}, args.threads, args.repeats, Path(tmp) / name)))
            if name == "1-photons":
                rows.append(("ds1-photons calo_wgan", name,
                             measure(name, CALO_WGAN, args.threads, args.repeats, Path(tmp) / "calo")))
    print(f"{args.threads} thread(s), batch {BATCH} for generation, median of {args.repeats}")
    print(f"{'model':<24} {'train batch':>11} {'s/step':>8} {'steps/h':>8} {'ms/shower':>10} {'target':>7}")
    for label, name, r in rows:
        print(f"{label:<24} {r['batch']:>11d} {r['step_s']:>8.3f} {3600 / r['step_s']:>8.0f} "
              f"{r['ms_per_shower']:>10.4f} {TARGET_MS[name]:>7.2f}")


if __name__ == "__main__":
    main()
