"""Evaluation speed: every physics metric for 100k generated vs 100k reference atlas266 showers.

Both sets come from the reference simulator with different seeds (generation time is not
counted); ``--widened`` makes the "generated" set 20% wider laterally, so the classifiers have
something to learn and train for longer (the slow case). Prints the wall time of each stage of
:func:`hepgan.metrics.physics.evaluate_showers` and the total, with the headline figures.
Target: < 60 s on 2 CPU cores.

Usage: python benchmarks/bench_evaluate.py [--showers 100000] [--widened] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time

from hepgan.metrics.physics import evaluate_showers, format_summary
from hepgan.sim import SimConfig, simulate

TARGET_S = 60.0
ENERGIES_GEV = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 65.0, 131.0, 262.0]



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--showers", type=int, default=100_000,
                        help="showers per set (spread over the 9 seed energies)")
    parser.add_argument("--widened", action="store_true", help="generated set 20%% wider laterally")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU thread cap for the whole evaluation (default: the libraries' own)")
    parser.add_argument("--no-classifier", action="store_true")
    args = parser.parse_args()

    per_energy = max(1, args.showers // len(ENERGIES_GEV))
    start = time.perf_counter()
    reference = simulate(energies_gev=ENERGIES_GEV, events_per_energy=per_energy, seed=1)
    extra = {"radial": SimConfig().radial.scaled(1.2)} if args.widened else {}
    generated = simulate(energies_gev=ENERGIES_GEV, events_per_energy=per_energy, seed=2, **extra)
    print(f"simulated 2 x {len(reference)} atlas266 showers in {time.perf_counter() - start:.1f} s (not counted)")
    print(f"cpu cores visible: {os.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")

    start = time.perf_counter()
    result = evaluate_showers(generated, reference, classifier=not args.no_classifier, threads=args.threads)
    total = time.perf_counter() - start
    print()
    print(format_summary(result))
    print()
    for stage, seconds in result["timing_s"].items():
        print(f"{stage:<12} {seconds:7.2f} s")
    print(f"{'total':<12} {total:7.2f} s   (target < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'NOT met'})")
    if result["classifier"]:
        for level, r in result["classifier"].items():
            steps = f"{r['epochs']} epochs" if "epochs" in r else f"{r['trees']} trees"
            print(f"  {level} classifier ({r['model']}): {r['seconds']:.1f} s, {steps}, "
                  f"{r['n_train']} training showers")


if __name__ == "__main__":
    main()
