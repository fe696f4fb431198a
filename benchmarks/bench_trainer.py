"""Trainer speed and memory: hepgan's Trainer vs a minimal hand-written PyTorch loop.

Both train the same conditional WGAN-GP (the calibration model of docs/targets.md: MLP generator
67 -> 256 -> 512 -> 512 -> 266 with softplus output, MLP critic on cells + conditions, Adam 1e-4
(0.5, 0.9), n_critic 5, lambda 10, batch 256) on the same simulated atlas266 showers, in the same
process, alternating repeats so machine noise hits both alike. Prints generator steps/s (median of
the repeats), the ratio (target >= 1.0), and resident memory over a longer trainer run (target:
flat).

Usage: python benchmarks/bench_trainer.py [--steps 200] [--repeats 3] [--memory-steps 3000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from hepgan.data.hdf5 import write_showers
from hepgan.models.losses import gradient_penalty
from hepgan.sim import simulate
from hepgan.train import Trainer, load_train_config

GENERATOR = "DENSE|256|RELU, DENSE|512|RELU, DENSE|512|RELU, DENSE|266|SOFTPLUS"
CRITIC = "DENSE|512|LEAKYRELU, DENSE|512|LEAKYRELU, DENSE|256|LEAKYRELU, DENSE|1|LINEAR"


def make_config(workdir: Path, steps: int, run: str) -> dict:
    return {
        "run_dir": str(workdir / run),
        "seed": 1,
        "data": {"kind": "showers", "path": str(workdir / "showers.h5"), "conditions": ["energy", "impact_eta"],
                 "validation_fraction": 0.0},
        "preprocessing": [{"type": "EnergyNormalize"}],
        "model": {"family": "cwgan_gp", "generator": GENERATOR, "critic": CRITIC, "latent_dim": 65, "gp_weight": 10.0},
        "optim": {"name": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "betas": [0.5, 0.9]},
        "schedule": {"steps": steps, "batch_size": 256, "n_critic": 5},
        "checkpoint": {"every": 10**9},
        "log": {"every": 50, "progress": False},
    }


def hand_loop(trainer: Trainer, steps: int) -> float:
    """The loop a user would write by hand around the very same networks and data."""
    g, d = trainer.model.generator, trainer.model.critics["critic"]
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.5, 0.9))
    x_all, c_all = trainer.data.train.x, trainer.data.train.cond
    n = len(x_all)
    start = time.perf_counter()
    for _ in range(steps):
        for _ in range(5):
            idx = torch.randint(n, (256,))
            x, c = x_all[idx], c_all[idx]
            fake = g(torch.randn(256, 65), c).detach()
            loss = d(fake, c).mean() - d(x, c).mean() + 10.0 * gradient_penalty(d, x, fake, c)
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        c = c_all[torch.randint(n, (256,))]
        loss = -d(g(torch.randn(256, 65), c), c).mean()
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    return steps / (time.perf_counter() - start)


def trainer_loop(workdir: Path, steps: int, run: str) -> float:
    trainer = Trainer(load_train_config(make_config(workdir, steps, run)))
    start = time.perf_counter()
    trainer.fit()
    return steps / (time.perf_counter() - start)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-steps", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_showers(workdir / "showers.h5", simulate(events_per_energy=2000, seed=1))
        hand, ours = [], []
        for r in range(args.repeats):
            trainer = Trainer(load_train_config(make_config(workdir, args.steps, f"hand{r}")))
            hand.append(hand_loop(trainer, args.steps))
            ours.append(trainer_loop(workdir, args.steps, f"trainer{r}"))
        h, o = statistics.median(hand), statistics.median(ours)
        print(f"conditional WGAN-GP, 266 cells, batch 256, n_critic 5, {torch.get_num_threads()} threads, "
              f"{args.steps} steps x {args.repeats} repeats (alternating)")
        print(f"  hand-written loop: {h:7.2f} generator steps/s  (runs: {', '.join(f'{v:.2f}' for v in hand)})")
        print(f"  hepgan Trainer:    {o:7.2f} generator steps/s  (runs: {', '.join(f'{v:.2f}' for v in ours)})")
        print(f"  ratio trainer / hand loop: {o / h:.3f}  (target >= 1.0)")

        class Probe:
            samples: list = []

        from hepgan.train import Callback

        class Memory(Callback):
            def on_step_end(self, trainer, step, logs):
                if step % max(1, args.memory_steps // 10) == 0:
                    Probe.samples.append((step, rss_mb()))

        config = make_config(workdir, args.memory_steps, "memory")
        config["checkpoint"] = {"every": max(1, args.memory_steps // 5), "keep_last": 2}
        Trainer(load_train_config(config), callbacks=[Memory()]).fit()
        (s0, m0), (s1, m1) = Probe.samples[1], Probe.samples[-1]
        print(f"  memory over {args.memory_steps} trainer steps: {m0:.0f} MB at step {s0} -> {m1:.0f} MB at step {s1} "
              f"({(m1 - m0) / max(1, s1 - s0) * 1000:+.2f} MB per 1000 steps)")


if __name__ == "__main__":
    main()
