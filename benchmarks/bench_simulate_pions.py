"""Reference-simulator speed for charged pions: showers/s on calochallenge-1-pions (533 voxels).

Times pion+ showers and, in the same run on the same binning and energies, photon showers, one
process block by block and in two worker processes. Prints medians over repeats and the
pion / photon ratio. Target: >= 1,000 pion showers/s on 2 cores.

Usage: python benchmarks/bench_simulate_pions.py [--showers 10240] [--energy 65] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from hepgan.geometry import get_geometry
from hepgan.sim import SimConfig
from hepgan.sim.simulate import block_rows, event_conditions, iter_simulation, simulate_block

TARGET_PER_S = 1000.0
GEOMETRY = "calochallenge-1-pions"


def _rate(fn, n: int, repeats: int) -> float:
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        fn(r)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def _rates(particle: str, args) -> tuple[float, float]:
    config = SimConfig(geometry=GEOMETRY, particle=particle, energies_gev=[args.energy], events_per_energy=args.showers,
                       chunk_size=2048)
    energies, conditions = event_conditions(config)
    block = block_rows(get_geometry(GEOMETRY))

    def one_process(r):
        rng = np.random.default_rng(r)
        for start in range(0, len(energies), block):
            rows = slice(start, start + block)
            simulate_block(config, energies[rows], {k: v[rows] for k, v in conditions.items()}, rng)

    def two_processes(r):
        for _ in iter_simulation(config.model_copy(update={"seed": r}), workers=2):
            pass

    return _rate(one_process, len(energies), args.repeats), _rate(two_processes, len(energies), args.repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--showers", type=int, default=10_240)
    parser.add_argument("--energy", type=float, default=65.0, help="incident energy in GeV")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pion_one, pion_two = _rates("pion+", args)
    photon_one, photon_two = _rates("photon", args)
    print(f"reference simulator, {GEOMETRY} (533 voxels), {args.energy:g} GeV, medians of {args.repeats} x {args.showers}")
    print(f"  {'':22} {'1 process':>12} {'2 processes':>12}")
    print(f"  {'pion+ showers/s':22} {pion_one:12.0f} {pion_two:12.0f}")
    print(f"  {'photon showers/s':22} {photon_one:12.0f} {photon_two:12.0f}")
    print(f"  pion / photon: {pion_one / photon_one:.2f} (1 process), {pion_two / photon_two:.2f} (2 processes)")
    best = max(pion_one, pion_two)
    print(f"  target >= {TARGET_PER_S:.0f} pion showers/s: {'met' if best >= TARGET_PER_S else 'NOT met'} "
          f"({best / TARGET_PER_S:.1f}x the target)")


if __name__ == "__main__":
    main()
