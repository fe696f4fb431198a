"""Shipped-generator speed: ms/shower of each backend (torch, onnx, numpy) vs the reference simulator.

The generator has the flagship architecture (the MLP of configs/atlas266-cwgan-gp.yaml by default:
CONCAT, 256-512-512 SWISH, 266 SOFTPLUS, latent 64, conditioned on energy, impact_eta and
alignment, EnergyNormalize preprocessing) with UNTRAINED weights: speed does not depend on the
values. Each backend is timed as ``hepgan generate`` runs it, from latent vectors and physical
conditions to MeV showers (condition encoding and preprocessing inverse included; drawing the
noise and writing the file excluded), at 65 GeV, eta 0.22:

* batch 1 on one thread (median over repeats of the mean of many calls), and
* batch 10,000 on two threads (median over repeats),

next to hepgan.sim on the same conditions. Targets: batch 1 < 0.2 ms, batched < 0.05 ms/shower,
model file < 5 MB.

With g++ on the machine, the C++ reference implementation (examples/cpp) is timed too, at batch
1 on one thread (target 0.1 ms for the flagship).

Usage: python benchmarks/bench_export.py [--config configs/atlas266-cwgan-gp.yaml] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from hepgan.data.conditions import ConditionEncoder
from hepgan.data.transforms import Pipeline, transform_from_dict
from hepgan.errors import HepganError
from hepgan.export.conditions import ConditionSampler
from hepgan.export.generate import NumpyBackend, OnnxBackend, TorchBackend
from hepgan.export.lwtnn import export_lwtnn
from hepgan.export.onnx import export_onnx
from hepgan.geometry import get_geometry
from hepgan.geometry.base import DERIVED_CONDITIONS
from hepgan.models import build_model
from hepgan.sim.simulate import event_conditions, simulate_block
from hepgan.train import load_train_config
from hepgan.train.generator import TrainedGenerator

TARGET_SINGLE_MS, TARGET_BATCH_MS, TARGET_MB = 0.2, 0.05, 5.0
BIG = 10_000


def untrained_generator(config_path: str) -> TrainedGenerator:
    """The config's generator with its initial weights, and an encoder fitted on the simulator's conditions."""
    config = load_train_config(config_path)
    sim = config.data.simulate
    energies, impact = event_conditions(sim.model_copy(update={"events_per_energy": 200}))
    geometry = get_geometry(sim.geometry)
    physical = {"energy": energies, **impact,
                **{name: geometry.derived_condition(name, impact, len(energies)) for name in DERIVED_CONDITIONS}}
    encoder = ConditionEncoder(names=list(config.data.conditions)).fit(physical)
    transform = Pipeline([transform_from_dict(dict(stage)) for stage in config.preprocessing])
    torch.manual_seed(0)
    model = build_model(config.model, (geometry.n_cells,), encoder.dim, sim.geometry)
    network = model.generator.eval()
    network.requires_grad_(False)
    return TrainedGenerator(network, model.latent_dim, encoder, transform, (geometry.n_cells,), sim.geometry,
                            "showers", config, 0)


def _inputs(gen: TrainedGenerator, n: int, seed: int = 0):
    info_like = TorchBackend(gen).info
    z = np.random.default_rng(seed).standard_normal((n, gen.latent_dim), dtype=np.float32)
    return z, ConditionSampler(info_like, eta=0.22, seed=seed).sample(np.full(n, 65_000.0))


def _single_ms(run, z, cond, repeats: int, calls: int) -> float:
    one = {k: v[:1] for k, v in cond.items()}
    run(z[:1], one)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            run(z[:1], one)
        times.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(times)


def _batch_ms(run, z, cond, repeats: int) -> float:
    run(z[:256], {k: v[:256] for k, v in cond.items()})  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(z, cond)
        times.append((time.perf_counter() - start) / len(z) * 1e3)
    return statistics.median(times)


def _cpp_row(gen: TrainedGenerator, z, cond, calls: int):
    """The C++ reference implementation (examples/cpp, built with -O3 -march=native) at batch 1
    on one thread, on the same lwtnn file and the first shower's inputs; its own timer, medians of 7."""
    name = "C++ (examples/cpp, lwtnn JSON)"
    compiler = shutil.which("g++")
    if compiler is None:
        return name, None, None, "n/a: no g++ on this machine"
    source = Path(__file__).resolve().parents[1] / "examples" / "cpp" / "generate.cpp"
    try:
        lwtnn = export_lwtnn(gen)
    except HepganError as exc:
        return name, None, None, f"n/a: {exc}"
    with tempfile.TemporaryDirectory() as tmp:
        binary, model, inputs = Path(tmp) / "generate", Path(tmp) / "g.json", Path(tmp) / "in.txt"
        subprocess.run([compiler, "-O3", "-march=native", "-std=c++17", "-o", str(binary), str(source)], check=True)
        model.write_text(json.dumps(lwtnn.spec))
        values = [*z[0].tolist()]
        for condition in gen.encoder.names:
            values += np.atleast_1d(np.asarray(cond[condition][0], float)).tolist()
        inputs.write_text(" ".join(f"{v!r}" for v in values) + "\n")
        out = subprocess.run([str(binary), "--bench", str(calls), str(model), str(inputs)], check=True,
                             capture_output=True, text=True).stdout
    return name, float(out.split()[0]) / 1e3, None, lwtnn.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/atlas266-cwgan-gp.yaml")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300, help="calls per batch-1 repeat")
    parser.add_argument("--sim-showers", type=int, default=2000, help="showers per simulator batch repeat")
    args = parser.parse_args()

    gen = untrained_generator(args.config)
    z, cond = _inputs(gen, BIG)
    n_params = sum(p.numel() for p in gen.network.parameters())
    buffer = io.BytesIO()
    torch.save(gen.network.state_dict(), buffer)
    onnx_export = export_onnx(gen)
    rows = []

    def measure(name, size, make):
        with threadpool_limits(1):  # entered once: it is far too slow to enter per call
            torch.set_num_threads(1)
            single = _single_ms(make(1).run, z, cond, args.repeats, args.calls)
        with threadpool_limits(2):
            torch.set_num_threads(2)
            batch = _batch_ms(make(2).run, z, cond, args.repeats)
        rows.append((name, single, batch, size))

    measure("torch (network + NumPy inverse)", buffer.tell(), lambda t: TorchBackend(gen))
    measure("onnx (onnxruntime)", onnx_export.size, lambda t: OnnxBackend(onnx_export.data, onnx_export.info, t))
    try:
        lwtnn = export_lwtnn(gen)
        from hepgan.export.runtime import LwtnnGenerator

        measure("numpy (lwtnn JSON runtime)", lwtnn.size, lambda t: NumpyBackend(LwtnnGenerator(lwtnn.spec)))
    except HepganError as exc:
        rows.append(("numpy (lwtnn JSON runtime)", None, None, f"n/a: {exc}"))

    rows.append(_cpp_row(gen, z, cond, args.calls * 10))
    sim_config = gen.config.data.simulate.model_copy(update={"energies_gev": [65.0], "events_per_energy": 1})

    def simulate(z_unused, c):
        impact = {k: c[k] for k in ("impact_eta", "impact_phi")}
        simulate_block(sim_config, c["energy"], impact, np.random.default_rng(0))

    with threadpool_limits(1):
        sim_single = _single_ms(simulate, z, cond, args.repeats, max(10, args.calls // 10))
    with threadpool_limits(2):
        m = args.sim_showers
        sim_batch = _batch_ms(simulate, z[:m], {k: v[:m] for k, v in cond.items()}, args.repeats)
    rows.append((f"reference simulator (hepgan.sim; batch {m})", sim_single, sim_batch, None))

    print(f"generator: {args.config} layout, UNTRAINED weights ({n_params:,} parameters), atlas266 photons at "
          f"65 GeV, eta 0.22; medians of {args.repeats} repeats")
    print(f"  {'backend':<44} {'batch 1, 1 thread':>18} {'batch 10k, 2 threads':>21} {'file':>10}")
    for name, single, batch, size in rows:
        if single is None:
            print(f"  {name:<44} {size}")
            continue
        file = "" if size is None else f"{size / 1e6:7.2f} MB"
        batched = "n/a (batch 1 only)" if batch is None else f"{batch:.5f} ms"
        print(f"  {name:<44} {single:13.4f} ms {batched:>19} {file:>10}")
    best_single = min(r[1] for r in rows[:-1] if r[1] is not None)
    best_batch = min(r[2] for r in rows[:-1] if r[2] is not None)
    print(f"  targets: batch 1 < {TARGET_SINGLE_MS} ms: {'met' if best_single < TARGET_SINGLE_MS else 'NOT met'}; "
          f"batched < {TARGET_BATCH_MS} ms/shower: {'met' if best_batch < TARGET_BATCH_MS else 'NOT met'}; "
          f"ONNX file < {TARGET_MB:g} MB: {'met' if onnx_export.size / 1e6 < TARGET_MB else 'NOT met'}")
    print(f"  speed-up of the fastest backend over the simulator: {sim_single / best_single:.0f}x at batch 1, "
          f"{sim_batch / best_batch:.0f}x batched")


if __name__ == "__main__":
    main()
