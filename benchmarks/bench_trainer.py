"""Trainer speed and memory: hepgan's Trainer against a minimal hand-written PyTorch loop.

Two models, each trained by both loops in the same process on the same data, alternating repeats
so that machine noise hits both alike:

* ``flagship``: the quickstart recipe (calo_wgan, batch 256, n_critic 3, weight average) as
  shipped, validation and checkpoints included. The hand loop calls the model's own losses, one
  generator pass per critic update, as a user would write it around ``model.critic_loss`` and
  ``model.generator_loss``.
* ``mlp``: the conditional WGAN-GP of the ATLAS FastCaloGAN study (MLP generator 67 -> 256 -> 512
  -> 512 -> 266, MLP critic, Adam 1e-4 (0.5, 0.9), n_critic 5, lambda 10, batch 256), the hand
  loop written out in plain torch.

Speeds are generator steps/s between the 10th and the last step (set-up and the calibration
fitted after training excluded), medians of the repeats; the ratio trainer / hand loop has the
target >= 1.0. A longer trainer run of the mlp model then prints resident memory (target: flat).

Usage: python benchmarks/bench_trainer.py [--models flagship,mlp] [--steps 200] [--repeats 3]
                                          [--memory-steps 3000] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from hepgan.data.hdf5 import write_showers
from hepgan.models.losses import gradient_penalty
from hepgan.quickstart import recipe_path
from hepgan.sim import simulate
from hepgan.train import Callback, Trainer, load_train_config

WARMUP = 10  # steps before the clock starts (first-call costs)
GENERATOR = "DENSE|256|RELU, DENSE|512|RELU, DENSE|512|RELU, DENSE|266|SOFTPLUS"
CRITIC = "DENSE|512|LEAKYRELU, DENSE|512|LEAKYRELU, DENSE|256|LEAKYRELU, DENSE|1|LINEAR"


def mlp_config(workdir: Path, steps: int, run: str) -> dict:
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


def flagship_config(workdir: Path, steps: int, run: str) -> dict:
    """The quickstart recipe as shipped (validation every 250 steps, checkpoints every 500), with
    its data cached in the work directory and the thread count left to the benchmark."""
    config = yaml.safe_load(recipe_path().read_text())
    config.update(run_dir=str(workdir / run), threads=None)
    config["data"]["cache_dir"] = str(workdir / "cache")
    config["log"] = {**config.get("log", {}), "progress": False}
    config["schedule"] = {**config["schedule"], "steps": steps, "time_limit_s": None}
    return config


class StepClock(Callback):
    """Times the steps after the warm-up."""

    def __init__(self):
        self.marks: dict[int, float] = {}

    def on_step_end(self, trainer, step, logs):
        self.marks[step] = time.perf_counter()

    def rate(self) -> float:
        last = max(self.marks)
        return (last - WARMUP) / (self.marks[last] - self.marks[WARMUP])


def trainer_rate(config: dict) -> float:
    clock = StepClock()
    Trainer(load_train_config(config), callbacks=[clock]).fit()
    return clock.rate()


def mlp_hand_loop(trainer: Trainer, steps: int) -> float:
    """The loop a user would write by hand around the very same networks and data."""
    g, d = trainer.model.generator, trainer.model.critics["critic"]
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.5, 0.9))
    x_all, c_all = trainer.data.train.x, trainer.data.train.cond
    n = len(x_all)
    for step in range(steps):
        if step == WARMUP:
            start = time.perf_counter()
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
    return (steps - WARMUP) / (time.perf_counter() - start)


def flagship_hand_loop(trainer: Trainer, steps: int) -> float:
    """The model's own losses in a plain loop: n_critic critic updates, each generating its batch,
    then one generator update with the critics frozen, and the weight average."""
    model = trainer.model
    sched, optim = trainer.config.schedule, trainer.config.optim
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=optim.lr_g, betas=optim.betas)
    opt_d = torch.optim.Adam(model.critics.parameters(), lr=optim.lr_d, betas=optim.betas)
    ema = copy.deepcopy(model.generator).requires_grad_(False)
    x_all, c_all = trainer.data.train.x, trainer.data.train.cond
    n, b = len(x_all), sched.batch_size
    model.train()
    for step in range(steps):
        if step == WARMUP:
            start = time.perf_counter()
        model.critics.requires_grad_(True)
        for _ in range(sched.n_critic):
            idx = torch.randint(n, (b,))
            loss, _ = model.critic_loss(x_all[idx], c_all[idx])
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        model.critics.requires_grad_(False)
        loss, _ = model.generator_loss(c_all[torch.randint(n, (b,))], b)
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.generator.parameters()):
                e.lerp_(p, 1.0 - sched.ema_decay)
    return (steps - WARMUP) / (time.perf_counter() - start)


MODELS = {"flagship": (flagship_config, flagship_hand_loop, "calo_wgan quickstart recipe, batch 256, n_critic 3"),
          "mlp": (mlp_config, mlp_hand_loop, "conditional WGAN-GP MLP, 266 cells, batch 256, n_critic 5")}


def compare(name: str, workdir: Path, steps: int, repeats: int) -> float:
    make_config, hand_loop, what = MODELS[name]
    hand, ours = [], []
    for r in range(repeats):
        trainer = Trainer(load_train_config(make_config(workdir, steps, f"{name}-hand{r}")))
        hand.append(hand_loop(trainer, steps))
        ours.append(trainer_rate(make_config(workdir, steps, f"{name}-trainer{r}")))
    h, o = statistics.median(hand), statistics.median(ours)
    print(f"{name}: {what}; {torch.get_num_threads()} threads, {steps} steps x {repeats} repeats (alternating)")
    print(f"  hand-written loop: {h:7.2f} generator steps/s  (runs: {', '.join(f'{v:.2f}' for v in hand)})")
    print(f"  hepgan Trainer:    {o:7.2f} generator steps/s  (runs: {', '.join(f'{v:.2f}' for v in ours)})")
    print(f"  ratio trainer / hand loop: {o / h:.3f}  (target >= 1.0)", flush=True)
    return o / h


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def memory(workdir: Path, steps: int) -> None:
    samples = []

    class Memory(Callback):
        def on_step_end(self, trainer, step, logs):
            if step % max(1, steps // 10) == 0:
                samples.append((step, rss_mb()))

    config = mlp_config(workdir, steps, "memory")
    config["checkpoint"] = {"every": max(1, steps // 5), "keep_last": 2}
    Trainer(load_train_config(config), callbacks=[Memory()]).fit()
    (s0, m0), (s1, m1) = samples[1], samples[-1]
    print(f"mlp: memory over {steps} trainer steps: {m0:.0f} MB at step {s0} -> {m1:.0f} MB at step {s1} "
          f"({(m1 - m0) / max(1, s1 - s0) * 1000:+.2f} MB per 1000 steps)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="flagship,mlp", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-steps", type=int, default=3000, help="0: skip the memory run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.steps <= WARMUP + 10:
        parser.error(f"--steps must exceed {WARMUP + 10}")
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_showers(workdir / "showers.h5", simulate(events_per_energy=2000, seed=1))
        for name in args.models.split(","):
            if name not in MODELS:
                parser.error(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
            compare(name, workdir, args.steps, args.repeats)
        if args.memory_steps:
            memory(workdir, args.memory_steps)


if __name__ == "__main__":
    main()
