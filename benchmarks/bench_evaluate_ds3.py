"""Memory and time of `hepgan evaluate` on two CaloChallenge dataset 3 files (40,500 voxels a shower).

Makes a generated-like and a reference file of ``--showers`` rows each in ``--dir`` (default
/tmp): ``--pool`` showers per file come from the reference simulator (1-1000 GeV log-uniform,
different seeds), and the rest are those showers written again, in order, until the file has
``--showers`` rows (100,000 simulated showers per file take ~7 minutes on 2 idle cores). Repeats
cost the observables and the memory what new showers do, but the classifiers can learn them by
heart (a shower in training and its copy in validation), so their AUCs rise and the high-level
trees grow longer than on distinct showers: use ``--pool`` = ``--showers`` for the true time. Then runs
``/usr/bin/time -v python -m hepgan evaluate A.h5 B.h5 --out metrics.json`` and prints its peak
resident memory, wall time and stage times. The files are deleted afterwards unless ``--keep``.
Targets (2 cores, 24 GB): peak RSS well under 12 GB and under 10 minutes for 100,000 showers.

Usage: python benchmarks/bench_evaluate_ds3.py [--showers 100000] [--pool 10000] [--dir /tmp] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hepgan.data.hdf5 import ShowerFile, ShowerWriter

GEOMETRY = "calochallenge-3"
TARGET_RSS_GB = 12.0
TARGET_S = 600.0


def make_file(path: Path, n: int, pool: int, seed: int, workdir: Path) -> None:
    """``n`` showers: ``pool`` simulated ones, written again and again until there are ``n``."""
    pool_path = workdir / f"pool-{seed}.h5"
    subprocess.run([sys.executable, "-m", "hepgan", "simulate", "--geometry", GEOMETRY, "--energy-range", "1,1000",
                    "--events", str(min(pool, n)), "--seed", str(seed), "--out", str(pool_path), "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL)
    with ShowerFile(pool_path) as source:
        names = source.condition_names
        with ShowerWriter(path, n_cells=source.n_cells, geometry=GEOMETRY, condition_names=names) as writer:
            while len(writer) < n:
                for chunk in source.iter_chunks(1024):
                    writer.append(chunk.subset(slice(0, n - len(writer))))
                    if len(writer) >= n:
                        break
    pool_path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--showers", type=int, default=100_000, help="showers per file")
    parser.add_argument("--pool", type=int, default=10_000, help="simulated showers per file (the rest repeat them)")
    parser.add_argument("--dir", default="/tmp", help="where the temporary files go (default /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the files and metrics.json")
    parser.add_argument("--no-classifier", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-ds3-", dir=args.dir))
    generated, reference, metrics = workdir / "generated.h5", workdir / "reference.h5", workdir / "metrics.json"
    try:
        start = time.perf_counter()
        make_file(generated, args.showers, args.pool, 2, workdir)
        make_file(reference, args.showers, args.pool, 1, workdir)
        size = sum(p.stat().st_size for p in (generated, reference)) / 1e9
        print(f"made 2 x {args.showers:,} {GEOMETRY} showers ({args.pool:,} simulated each) in "
              f"{time.perf_counter() - start:.0f} s: {size:.1f} GB on disk (not counted)")
        print(f"cpu cores visible: {os.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        command = [sys.executable, "-m", "hepgan", "evaluate", str(generated), str(reference), "--out", str(metrics)]
        if args.no_classifier:
            command.append("--no-classifier")
        run = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.exit(f"hepgan evaluate failed:\n{run.stderr}")
        rss_gb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)) / 1024**2
        clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", run.stderr).group(1)
        seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(clock.split(":"))))
        print(run.stdout)
        result = json.loads(metrics.read_text())
        for stage, t in result["timing_s"].items():
            print(f"{stage:<12} {t:7.1f} s")
        for level, r in (result["classifier"] or {}).items():
            steps = f"{r['epochs']} epochs" if "epochs" in r else f"{r['trees']} trees"
            print(f"  {level} classifier ({r['model']}): {r['seconds']:.1f} s, {steps}, {r['n_train']:,} training rows")
        print(f"peak RSS {rss_gb:.2f} GB (target well under {TARGET_RSS_GB:.0f} GB: "
              f"{'met' if rss_gb < TARGET_RSS_GB else 'NOT met'}); wall {seconds:.0f} s "
              f"(target < {TARGET_S:.0f} s: {'met' if seconds < TARGET_S else 'NOT met'})")
    finally:
        if not args.keep:
            for p in workdir.iterdir():
                p.unlink()
            workdir.rmdir()


if __name__ == "__main__":
    main()
