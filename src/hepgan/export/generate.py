"""``hepgan generate``: showers from a trained or exported generator, streamed into an HDF5 file.

A model is a run directory, an exported ``.onnx`` file or an lwtnn ``.json`` file; the backend
(torch, onnx or numpy) runs it. A run directory runs under any backend (it is exported in
memory, and verified, for onnx and numpy); an exported file under its own (onnx files under
onnx, lwtnn files under numpy). Every backend takes the same latent vectors and conditions,
so a seed gives the same showers (to float rounding) whichever runs it.

The incident energies come one of three ways: ``events`` showers at each of given energy
points; one shower per row of a reference file (``like``), with its energies and impact points
in its order, so that generated and reference files compare row for row; or a named spectrum
(``spectrum``, :mod:`hepgan.sim.spectra`, the same the simulator draws from).

Showers are generated in chunks of at most ``chunk_size`` and appended to the file
(:class:`~hepgan.data.hdf5.ShowerWriter`), so memory stays bounded whatever the number of
events; a reference file is read the same way, its condition columns only (never its showers).
Each energy point (or the whole row sequence of ``like`` and ``spectrum``) draws its latent
vectors and impact points from its own streams, so the showers do not depend on the chunk size
either. The file has the layout of the data (``incident_energies``, ``showers`` in MeV,
``impact_eta``/``impact_phi``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepgan.data.showers import chunk_rows
from hepgan.errors import ConfigError, DataError
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
        from hepgan.export.onnx import onnx_runtime

        self.runtime = onnx_runtime(model, threads)
        self.info = info

    def run(self, z, conditions=None, labels=None):
        from hepgan.export.onnx import run_onnx

        return run_onnx(self.runtime, self.info, z, conditions, labels)


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
    energies_gev: list[float]  # the energy points, or the lowest and highest energy of a continuous set
    backend: str
    seconds: float
    warnings: list[str]
    conditions: str = "energies"  # where the energies came from: "energies", "like FILE" or "spectrum NAME"


MAX_LISTED_ENERGIES = 64


def generate_file(
    model: str | Path | Backend,
    out: str | Path,
    *,
    energies_gev: Sequence[float] | None = None,
    events: int | None = None,
    like: str | Path | None = None,
    spectrum: str | None = None,
    eta: float | None = None,
    backend: str | None = None,
    seed: int = 0,
    chunk_size: int = 10_000,
    strict: bool = False,
    threads: int | None = None,
    warn: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Write showers to ``out``: ``events`` per energy point (GeV), one per row of the reference
    file ``like``, or ``spectrum``'s (``events`` in all when given); see the module docstring."""
    from hepgan.data.hdf5 import ShowerWriter

    given = [name for name, value in (("energies_gev", energies_gev), ("like", like), ("spectrum", spectrum))
             if value is not None]
    if len(given) != 1:
        raise ConfigError("give exactly one of energies_gev (with events), like (a reference file) or spectrum; "
                          + (f"got {' and '.join(given)}" if given else "got none"))
    if int(chunk_size) < 1:
        raise ConfigError(f"chunk_size must be at least 1, got {chunk_size}")
    energies: list[float] = []
    reference = None
    points = None
    if energies_gev is not None:
        energies = [float(e) for e in energies_gev]
        if not energies or not all(np.isfinite(e) and e > 0 for e in energies):
            raise ConfigError(f"energies must be positive numbers in GeV, got {list(energies_gev)}")
        if events is None or int(events) < 1:
            raise ConfigError(f"events must be at least 1, got {events}")
    elif like is not None:
        if events is not None:
            raise ConfigError("like generates one shower per row of the reference file; drop events")
        reference = _Reference(like)
        if Path(out).resolve() == reference.path.resolve():
            raise ConfigError(f"{out}: the output would replace the reference file it is generated like")
    else:
        if events is not None and int(events) < 1:
            raise ConfigError(f"events must be at least 1, got {events}")
        from hepgan.sim.spectra import get_spectrum

        points = get_spectrum(spectrum, None if events is None else int(events))
    out = Path(out)
    if not out.parent.is_dir():  # fail before loading (and perhaps exporting) the model
        raise DataError(out, f"cannot write: directory {str(out.parent)!r} does not exist")
    runner = model if isinstance(model, Backend) else open_model(model, backend, threads=threads)
    info = runner.info
    if info.kind != "showers":
        raise ConfigError(f"{info.source or model} is an image generator; hepgan generate writes showers")
    chunk_size = chunk_rows(chunk_size, info.n_outputs)
    n_samplers = len(energies) if energies_gev is not None else 1
    samplers = [ConditionSampler(info, eta=eta, seed=seed, stream=i) for i in range(n_samplers)]
    names = samplers[0].impact_names
    if reference is not None:
        reference.check_model(info, names, eta)
        requested = reference.scan(chunk_size)
        energies = reference.energies_gev
        description = f"like {reference.path}"
    elif points is not None:
        energies = list(points.points_gev if points.discrete else points.bounds_gev)
        requested = {"energy": np.asarray(energies) * 1000.0}
        description = f"spectrum {points.name}"
    else:
        requested = {"energy": np.asarray(energies) * 1000.0}
        description = "energies"
    if eta is not None:
        requested["impact_eta"] = np.asarray([eta])
    problems = check_range(info, requested, strict=strict, warn=warn)
    attrs = {"generator": str(info.source or model), "generator_step": info.step, "backend": runner.name, "seed": seed,
             "eta": eta, "like": None if like is None else str(like), "spectrum": spectrum}
    start = time.perf_counter()
    with ShowerWriter(out, n_cells=info.n_outputs, geometry=info.geometry, condition_names=names, attrs=attrs) as writer:
        if energies_gev is not None:
            for i, (energy, sampler) in enumerate(zip(energies, samplers)):
                z_rng = np.random.default_rng([seed, i, 0])
                for first in range(0, int(events), chunk_size):
                    m = min(chunk_size, int(events) - first)
                    _append(runner, writer, names, z_rng, sampler, np.full(m, energy * 1000.0), None)
        else:
            if reference is not None:
                rows = reference.rows(chunk_size)
            else:
                drawn = points.draw_mev(np.random.default_rng([seed, 0, 2]))
                rows = ((drawn[a : a + chunk_size], None) for a in range(0, drawn.shape[0], chunk_size))
            z_rng = np.random.default_rng([seed, 0, 0])
            for energies_mev, given_impact in rows:
                _append(runner, writer, names, z_rng, samplers[0], energies_mev, given_impact)
        n = len(writer)
    return GenerateResult(out, n, energies, runner.name, time.perf_counter() - start, problems, description)


def _append(runner: Backend, writer, names: list[str], z_rng: np.random.Generator, sampler: ConditionSampler,
            energies_mev: np.ndarray, given: dict[str, np.ndarray] | None) -> None:
    """Generate one chunk of showers for these energies (and given impact points) and write it."""
    from hepgan.data.showers import ShowerData

    m = energies_mev.shape[0]
    z = z_rng.standard_normal((m, runner.info.latent_dim), dtype=np.float32)
    conditions = sampler.sample(energies_mev, given)
    showers = runner.run(z, conditions)
    extra = {name: conditions[name].reshape(m, 1) for name in names}
    writer.append(ShowerData(showers.astype(np.float32), conditions["energy"].reshape(m, 1), extra,
                             runner.info.geometry))


class _Reference:
    """The condition columns of a reference shower file, read in chunks of rows: its incident
    energies and the impact coordinates the model takes, never its showers."""

    def __init__(self, path: str | Path):
        from hepgan.data.hdf5 import ShowerFile

        self.path = Path(path)
        with ShowerFile(self.path) as handle:  # checks the layout, reads no data
            self.n = len(handle)
            self.geometry = handle.geometry
            self.n_cells = handle.n_cells
            self.condition_names = handle.condition_names
        if self.n == 0:
            raise DataError(self.path, "the reference file holds no showers")
        self.impact_names: list[str] = []
        self.energies_gev: list[float] = []

    def check_model(self, info: ExportInfo, impact_names: list[str], eta: float | None) -> None:
        """Refuse a reference of another geometry; take the impact coordinates it has."""
        if self.geometry is not None and info.geometry is not None and self.geometry != info.geometry:
            raise ConfigError(f"{self.path} holds {self.geometry} showers but the model generates {info.geometry} "
                              f"showers; give a reference of the model's geometry, or a spectrum")
        if self.geometry is None and self.n_cells != info.n_outputs:
            raise ConfigError(f"{self.path} has showers of {self.n_cells} cells but the model generates "
                              f"{info.n_outputs}; give a reference of the model's geometry, or a spectrum")
        self.impact_names = [name for name in impact_names if name in self.condition_names]
        if eta is not None and "impact_eta" in self.impact_names:
            raise ConfigError(f"{self.path} gives every shower's impact_eta; drop --eta")

    def scan(self, chunk_size: int) -> dict[str, np.ndarray]:
        """Check every row before generating any; the values to compare with the trained range."""
        lows, highs, distinct = {}, {}, set()
        for energies, given in self.rows(chunk_size):
            for name, values in {"energy": energies, **given}.items():
                lows[name] = min(lows.get(name, np.inf), float(values.min()))
                highs[name] = max(highs.get(name, -np.inf), float(values.max()))
            if len(distinct) <= MAX_LISTED_ENERGIES:
                distinct.update(np.unique(energies).tolist())
        if len(distinct) <= MAX_LISTED_ENERGIES:
            self.energies_gev = [e / 1000.0 for e in sorted(distinct)]
        else:
            self.energies_gev = [lows["energy"] / 1000.0, highs["energy"] / 1000.0]
        requested = {name: np.array([lows[name], highs[name]]) for name in lows}
        if len(distinct) <= MAX_LISTED_ENERGIES:
            requested["energy"] = np.array(sorted(distinct))
        return requested

    def rows(self, chunk_size: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(incident energies (N,) MeV, {impact coordinate: (N,)}) of consecutive chunks of rows."""
        from hepgan.data.files import check_finite_rows, one_line
        from hepgan.data.hdf5 import open_hdf5

        with open_hdf5(self.path) as handle:
            for start in range(0, self.n, chunk_size):
                stop = min(self.n, start + chunk_size)
                columns = {}
                for name in ("incident_energies", *self.impact_names):
                    try:
                        values = np.asarray(handle[name][start:stop], float)
                    except (OSError, RuntimeError, KeyError, ValueError) as error:
                        raise DataError(self.path, f"cannot read dataset {name!r} rows {start}-{stop} (truncated or "
                                                   f"corrupt?): {one_line(error)}") from None
                    values = values.reshape(stop - start, -1)
                    if values.shape[1] != 1:
                        raise DataError(self.path, f"dataset {name!r} has {values.shape[1]} columns; expected one "
                                                   f"value per shower")
                    check_finite_rows(values, f"dataset {name!r}", self.path, start)
                    columns[name] = values[:, 0]
                energies = columns.pop("incident_energies")
                if (energies <= 0).any():
                    row = start + int(np.argmax(energies <= 0))
                    raise DataError(self.path, f"incident energy {energies[row - start]:g} MeV at row {row} is not "
                                               f"positive")
                yield energies, columns
