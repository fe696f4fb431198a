"""The vanilla GAN's mode collapse shown by numbers, next to the same GAN with a fix.

Trains (unless the run directories already hold runs) configs/mnist-gan.yaml and the fix,
configs/mnist-dcgan-small.yaml (a small convolutional DCGAN; --fix configs/mnist-gan-mbstd.yaml
tries minibatch standard deviation on the vanilla networks instead), with one thread and the same
time budget, then prints for each: the histogram of
LeNet-predicted classes of 10,000 generated digits, its largest share and effective number of
classes, the Inception Score and k-NN precision / recall / coverage against the MNIST test set.

Usage: python scripts/mode_collapse.py [--steps 6000] [--time-limit 240] [--fix configs/mnist-gan-mbstd.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hepgan.data.idx import read_mnist
from hepgan.images.collapse import collapse_diagnostics, format_collapse_table
from hepgan.train import load_train_config
from hepgan.train.generator import TrainedGenerator
from hepgan.train.trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collapse", default="configs/mnist-gan.yaml")
    parser.add_argument("--fix", default="configs/mnist-dcgan-small.yaml")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--time-limit", type=float, default=240.0, help="seconds per training run")
    parser.add_argument("--runs", default="runs/mode-collapse")
    parser.add_argument("--n", type=int, default=10_000, help="generated images per model")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    rows = {}
    test = None
    for config_path in (args.collapse, args.fix):
        name = Path(config_path).stem
        run_dir = Path(args.runs) / name
        config = load_train_config(config_path, run_dir=str(run_dir), threads=args.threads,
                                   **{"schedule.steps": args.steps, "schedule.time_limit_s": args.time_limit,
                                      "log.progress": False, "eval.every": 0, "eval.metrics": [], "eval.select": None})
        if not (run_dir / "checkpoints" / "last.pt").exists():
            result = Trainer(config).fit()
            print(f"{name}: trained {result.steps} steps in {result.seconds:.0f} s", flush=True)
        generator = TrainedGenerator.from_run(run_dir, which="last")
        test = test or read_mnist(config.data.mnist_dir, "test")
        n = min(args.n, len(test))
        images = generator.generate(n=n, seed=0).reshape(n, 28, 28)
        rows[f"{name} (step {generator.step})"] = collapse_diagnostics(images, test.images[:n])
    print(format_collapse_table(rows))


if __name__ == "__main__":
    main()
