"""``hepgan generate``: showers from a trained or exported generator, streamed into an HDF5 file.

A model is a run directory, an exported ``.onnx`` file or an lwtnn ``.json`` file; the backend
(torch, onnx or numpy) runs it. A run directory runs under any backend (it is exported in
memory, and verified, for onnx and numpy); an exported file under its own (onnx files under
onnx, lwtnn files under numpy). Every backend takes the same latent vectors and conditions,
so a seed gives the same showers (to float rounding) whichever runs it.

For each energy point, ``events`` showers are generated in chunks of at most ``chunk_size``
and appended to the file (:class:`~hepgan.data.hdf5.ShowerWriter`), so memory stays bounded
whatever the number of events; each energy point draws its latent vectors and impact points
from its own streams, so the showers do not depend on the chunk size either. The file has the
layout of the data (``incident_energies``, ``showers`` in MeV, ``impact_eta``/``impact_phi``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepgan.errors import ConfigError
from hepgan.export.conditions import ConditionSampler
from hepgan.export.info import ExportInfo, check_range, model_kind

BACKENDS = ("torch", "onnx", "numpy")
_DEFAULT_BACKEND = {"run": "torch", "onnx": "onnx", "lwtnn": "numpy"}
_FILE_BACKEND = {"onnx": "onnx", "lwtnn": "numpy"}


class Backend:
    """A generator ready to run: ``run(z, conditions, labels)`` -> physical samples (N, ...)."""

    name = ""
    info: ExportInfo

    def run(self, z: np.ndarray, conditions: dict[str, np.ndarray] | None = None, labels=None) -> np.ndarray:
        raise NotImplementedError


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, gen, threads: int | None = None):
        import torch

        from hepgan.export.info import info_from_generator

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.gen = gen
        self.info = info_from_generator(gen)

    def run(self, z, conditions=None, labels=None):
        from hepgan.export.module import reference_forward

        return reference_forward(self.gen, z, conditions, labels)


class OnnxBackend(Backend):
    name = "onnx"

    def __init__(self, model: bytes | str | Path, info: ExportInfo, threads: int | None = None):
        from hepgan.export.onnx import make_session

        self.session = make_session(model, threads)
        self.info = info

    def run(self, z, conditions=None, labels=None):
        from hepgan.export.onnx import run_session

        return run_session(self.session, self.info, z, conditions, labels)


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self, model, threads: int | None = None):
        self.model = model
        self.info = model.info
        self.threads = threads

    def run(self, z, conditions=None, labels=None):
        if self.threads is None:
            return self.model.run(z, conditions, labels)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(int(self.threads)):
            return self.model.run(z, conditions, labels)


def open_model(model: str | Path, backend: str | None = None, *, threads: int | None = None,
               which: str = "best") -> Backend:
    """The backend running ``model`` (run directory, .onnx or lwtnn .json); default backend by model kind."""
    kind = model_kind(model)
    backend = backend or _DEFAULT_BACKEND[kind]
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if kind != "run":
        if backend != _FILE_BACKEND[kind]:
            what = "an ONNX model" if kind == "onnx" else "an lwtnn JSON model"
            raise ConfigError(f"{model} is {what}, which backend {backend} cannot run; use --backend "
                              f"{_FILE_BACKEND[kind]} (or give the run directory)")
        if kind == "onnx":
            from hepgan.export.onnx import read_info

            return OnnxBackend(Path(model), read_info(model), threads)
        from hepgan.export.runtime import LwtnnGenerator

        return NumpyBackend(LwtnnGenerator.load(model), threads)
    from hepgan.train.generator import TrainedGenerator

    gen = TrainedGenerator.from_run(model, which=which)
    if backend == "torch":
        return TorchBackend(gen, threads)
    if backend == "onnx":
        from hepgan.export.onnx import export_onnx

        result = export_onnx(gen, source=str(model))
        return OnnxBackend(result.data, result.info, threads)
    from hepgan.export.lwtnn import to_lwtnn
    from hepgan.export.runtime import LwtnnGenerator

    return NumpyBackend(LwtnnGenerator(to_lwtnn(gen, source=str(model)), model), threads)


@dataclass
class GenerateResult:
    path: Path
    n: int
    energies_gev: list[float]
    backend: str
    seconds: float
    warnings: list[str]


def generate_file(
    model: str | Path | Backend,
    out: str | Path,
    *,
    energies_gev: Sequence[float],
    events: int,
    eta: float | None = None,
    backend: str | None = None,
    seed: int = 0,
    chunk_size: int = 10_000,
    strict: bool = False,
    threads: int | None = None,
    warn: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Write ``events`` showers per energy point (GeV) to ``out``; see the module docstring."""
    from hepgan.data.hdf5 import ShowerWriter
    from hepgan.data.showers import ShowerData

    energies = [float(e) for e in energies_gev]
    if not energies or not all(np.isfinite(e) and e > 0 for e in energies):
        raise ConfigError(f"energies must be positive numbers in GeV, got {list(energies_gev)}")
    if int(events) < 1:
        raise ConfigError(f"events must be at least 1, got {events}")
    if int(chunk_size) < 1:
        raise ConfigError(f"chunk_size must be at least 1, got {chunk_size}")
    out = Path(out)
    if not out.parent.is_dir():  # fail before loading (and perhaps exporting) the model
        from hepgan.errors import DataError

        raise DataError(out, f"cannot write: directory {str(out.parent)!r} does not exist")
    runner = model if isinstance(model, Backend) else open_model(model, backend, threads=threads)
    info = runner.info
    if info.kind != "showers":
        raise ConfigError(f"{info.source or model} is an image generator; hepgan generate writes showers")
    samplers = [ConditionSampler(info, eta=eta, seed=seed, stream=i) for i in range(len(energies))]
    requested = {"energy": np.asarray(energies) * 1000.0}
    if eta is not None:
        requested["impact_eta"] = np.asarray([eta])
    problems = check_range(info, requested, strict=strict, warn=warn)
    names = samplers[0].impact_names
    attrs = {"generator": str(info.source or model), "generator_step": info.step, "backend": runner.name, "seed": seed,
             "eta": eta}
    start = time.perf_counter()
    with ShowerWriter(out, n_cells=info.n_outputs, geometry=info.geometry, condition_names=names, attrs=attrs) as writer:
        for i, (energy, sampler) in enumerate(zip(energies, samplers)):
            z_rng = np.random.default_rng([seed, i, 0])
            for first in range(0, int(events), int(chunk_size)):
                m = min(int(chunk_size), int(events) - first)
                z = z_rng.standard_normal((m, info.latent_dim), dtype=np.float32)
                conditions = sampler.sample(np.full(m, energy * 1000.0))
                showers = runner.run(z, conditions)
                extra = {name: conditions[name].reshape(m, 1) for name in names}
                writer.append(ShowerData(showers.astype(np.float32), conditions["energy"].reshape(m, 1), extra,
                                         info.geometry))
    return GenerateResult(out, len(energies) * int(events), energies, runner.name, time.perf_counter() - start, problems)
