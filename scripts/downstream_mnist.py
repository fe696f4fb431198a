"""Downstream use of a trained conditional MNIST generator: re-train the metric LeNet with generated
images, (a) mixed into the real training set and (b) as pre-training for 550 real images.

Prints two Markdown tables with the seed's figures beside ours (docs/images.md).

Usage: python scripts/downstream_mnist.py RUN_DIR [--real 60000] [--epochs 2] [--threads 1] [--skip-mix]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hepgan.data.idx import read_mnist
from hepgan.images.downstream import few_shot_study, format_downstream_table, mix_study
from hepgan.train.generator import TrainedGenerator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a trained conditional image run (e.g. runs/mnist-best)")
    parser.add_argument("--mnist", default=None, help="MNIST directory (default: the run's)")
    parser.add_argument("--real", type=int, default=60_000, help="real training images for study (a)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--fractions", default="0,0.1,0.2,0.5,1.0")
    parser.add_argument("--n-generated", type=int, default=20_000, help="generated images for pre-training in (b)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-mix", action="store_true", help="only run study (b)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    generator = TrainedGenerator.from_run(args.run_dir)
    if not generator.encoder.n_classes:
        raise SystemExit(f"{args.run_dir}: the downstream study needs a class-conditional generator")
    mnist = args.mnist or generator.config.data.mnist_dir
    train, test = read_mnist(mnist, "train"), read_mnist(mnist, "test")

    def generate(labels, seed):
        return generator.generate(labels=np.asarray(labels), seed=seed)

    start = time.perf_counter()
    print(f"generator: {args.run_dir} step {generator.step}; {args.threads} thread(s)\n")
    print("(b) few real images: 55 per class")
    few = few_shot_study(generate, train.images, train.labels, test.images, test.labels,
                         n_generated=args.n_generated, seed=args.seed)
    print(format_downstream_table(few, {few[0].name: "88%", few[2].name: "92%"}), flush=True)
    if not args.skip_mix:
        fractions = [float(f) for f in args.fractions.split(",")]
        n = min(args.real, len(train))
        print(f"(a) {n} real training images + generated ones, {args.epochs} epochs each")
        mix = mix_study(generate, train.images[:n], train.labels[:n], test.images, test.labels,
                        fractions=fractions, epochs=args.epochs, seed=args.seed)
        base = mix[0].test_accuracy
        study_notes = {r.name: ("+0.3% at ~30%" if abs(r.n_generated / n - 0.2) < 1e-9 else "") for r in mix}
        print(format_downstream_table(mix, study_notes))
        print("differences to real only: " + ", ".join(f"{r.name}: {100 * (r.test_accuracy - base):+.2f}%" for r in mix[1:]))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
