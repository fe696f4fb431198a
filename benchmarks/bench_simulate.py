"""Reference-simulator speed: showers/s for atlas266 photons at 65 GeV on this machine.

Measures hepgan's simulator (closed-form cell integration + multinomial spots) and, in the same
run, the classic GFLASH algorithm that throws every spot one by one (hepgan.sim.spot_by_spot) on
the same showers. Prints medians over repeats and their ratio. Target: >= 2,000 showers/s.

Usage: python benchmarks/bench_simulate.py [--showers 10240] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from hepgan.sim import SimConfig
from hepgan.sim.simulate import event_conditions, iter_simulation, simulate_block
from hepgan.sim.spot_by_spot import simulate_spots_block

TARGET_PER_S = 2000.0


def _rate(fn, n: int, repeats: int) -> float:
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        fn(np.random.default_rng(r))
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--showers", type=int, default=10_240)
    parser.add_argument("--baseline-showers", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    config = SimConfig(energies_gev=[65.0], events_per_energy=args.showers, chunk_size=2048)
    energies, conditions = event_conditions(config)
    block = 1024

    def fast(rng):
        for start in range(0, len(energies), block):
            rows = slice(start, start + block)
            simulate_block(config, energies[rows], {k: v[rows] for k, v in conditions.items()}, rng)

    nb = args.baseline_showers
    base_cond = {k: v[:nb] for k, v in conditions.items()}

    def baseline(rng):
        simulate_spots_block(config, energies[:nb], base_cond, rng)

    def two_processes(rng):
        for _ in iter_simulation(config.model_copy(update={"seed": int(rng.integers(1 << 30))}), workers=2):
            pass

    fast_rate = _rate(fast, len(energies), args.repeats)
    parallel_rate = _rate(two_processes, len(energies), args.repeats)
    base_rate = _rate(baseline, nb, max(1, args.repeats // 2))
    print("reference simulator, atlas266, photons at 65 GeV")
    print(f"  hepgan (closed form + multinomial spots): {fast_rate:9.0f} showers/s  (median of {args.repeats} x {len(energies)})")
    print(f"  hepgan in 2 worker processes:             {parallel_rate:9.0f} showers/s  (median of {args.repeats} x {len(energies)}, "
          f"{parallel_rate / fast_rate:.2f}x one process)")
    print(f"  baseline (GFLASH spot by spot):           {base_rate:9.0f} showers/s  (median of {max(1, args.repeats // 2)} x {nb})")
    print(f"  speed-up vs baseline: {fast_rate / base_rate:.1f}x")
    best = max(fast_rate, parallel_rate)
    print(f"  target >= {TARGET_PER_S:.0f} showers/s: {'met' if best >= TARGET_PER_S else 'NOT met'} "
          f"({best / TARGET_PER_S:.1f}x the target)")
    print(f"  the seed's 88,000-shower training set would take {88_000 / best:.1f} s")


if __name__ == "__main__":
    main()
