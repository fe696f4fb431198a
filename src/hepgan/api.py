"""The functions behind the ``hepgan`` command: each CLI verb calls the function of the same name."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from hepgan.data.files import read_yaml_mapping
from hepgan.data.showers import ShowerData
from hepgan.data.summary import ShowerSummary
from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry, list_geometries
from hepgan.sim.config import SimConfig, replace_energy_fields
from hepgan.sim.simulate import iter_simulation


def load_sim_config(path: str | Path | None = None, **overrides) -> SimConfig:
    """A SimConfig from an optional YAML file, with keyword overrides on top; errors name the field."""
    values: dict = read_yaml_mapping(path, "simulator config") if path is not None else {}
    values = replace_energy_fields(values, {k: v for k, v in overrides.items() if v is not None})
    try:
        return SimConfig(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path or 'simulator config'}: {problems}") from None


def simulate(
    config: SimConfig | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = False,
    workers: int = 1,
    **overrides,
):
    """Simulate showers with the reference simulator.

    Without ``out`` the showers are returned as a :class:`ShowerData`. With ``out`` they are
    streamed chunk by chunk into a CaloChallenge-layout HDF5 file (atomically: the file appears
    only when complete) and the per-energy :class:`ShowerSummary` is returned. ``workers``
    processes share the work; the showers do not depend on it.
    """
    config = config or SimConfig()
    if overrides:
        config = load_sim_config(None, **replace_energy_fields(config.model_dump(), overrides))
    if out is None:
        return ShowerData.concat(list(iter_simulation(config, workers=workers)))
    from hepgan.data.hdf5 import ShowerWriter

    geometry = get_geometry(config.geometry)
    summary = ShowerSummary(config.geometry)
    names = list(geometry.impact.names) if geometry.impact else []
    start = time.perf_counter()
    attrs = {"simulator": "hepgan.sim", "sim_config": config.model_dump(mode="json")}
    with (
        ShowerWriter(out, n_cells=geometry.n_cells, geometry=config.geometry, condition_names=names, attrs=attrs) as writer,
        tqdm(total=config.total_events, unit="shower", disable=not progress, desc="simulate") as bar,
    ):
        for chunk in iter_simulation(config, workers=workers):
            writer.append(chunk)
            summary.update(chunk)
            bar.update(len(chunk))
    summary.seconds = time.perf_counter() - start
    return summary


def info(path: str | Path, geometry: str | None = None, chunk_size: int = 50_000) -> ShowerSummary:
    """Per-energy summary of a shower file, read in chunks (HDF5) or whole (other formats)."""
    from hepgan.data.files import require_file
    from hepgan.data.hdf5 import ShowerFile
    from hepgan.data.io import detect_format, is_calogan_file, load_showers

    path = require_file(path)
    if detect_format(path) == "hdf5" and not is_calogan_file(path):
        with ShowerFile(path, geometry=geometry) as handle:
            summary = ShowerSummary(handle.geometry)
            for chunk in handle.iter_chunks(chunk_size):
                summary.update(chunk)
        return summary
    data = load_showers(path, geometry=geometry)
    summary = ShowerSummary(data.geometry)
    summary.update(data)
    return summary


def geometries() -> list[dict]:
    """Every registered geometry, described."""
    return [get_geometry(name).describe() for name in list_geometries()]


def train(config: str | Path | dict, *, resume: bool = False, progress: bool | None = None, **overrides):
    """Train the GAN a config (YAML path, dict or TrainConfig) describes; returns a TrainResult.

    ``overrides`` are dotted config keys (``schedule.steps=100``). With ``resume`` the run in the
    config's run_dir continues from its last checkpoint, bit-exactly on CPU.
    """
    from hepgan.train import TrainConfig, load_train_config
    from hepgan.train import train as run_training

    if isinstance(config, TrainConfig):
        config = config.model_dump(mode="json")
    if progress is not None:
        overrides["log.progress"] = progress
    return run_training(load_train_config(config, **overrides), resume=resume)


def tune(search: str | Path, *, trials: int | None = None, workers: int = 1, storage: str | None = None,
         report: bool = False):
    """Hyperparameter search of a search file on Optuna (see :mod:`hepgan.tune.search`); returns a TuneResult.

    Trials train in ``RUN_DIR/trial-NNNN``; the study lives in ``RUN_DIR/study.db`` or in ``storage``
    (any database URL: workers on other machines running the same search join the study). With
    ``report`` only the results table of the study as it stands is written.
    """
    from hepgan.tune import tune as run_search

    return run_search(search, trials=trials, workers=workers, storage=storage, report=report)


def study(spec: str | Path, *, workers: int = 1, storage: str | None = None, report: bool = False):
    """Train the configs x seeds of a study file and tabulate mean +- spread of their metrics per
    config (see :mod:`hepgan.tune.study`); returns a StudyResult."""
    from hepgan.tune import study as run_study

    return run_study(spec, workers=workers, storage=storage, report=report)


def evaluate(
    generated: str | Path | ShowerData,
    reference: str | Path | ShowerData,
    *,
    geometry: str | None = None,
    classifier: bool = True,
    per_energy: bool = True,
    seed: int = 0,
    out: str | Path | None = None,
    progress=None,
    high_level_model: str = "hgb",
) -> dict:
    """Physics metrics of generated showers against reference ones (files or ShowerData).

    Returns the JSON-serialisable dict of :func:`hepgan.metrics.physics.evaluate_showers`; with
    ``out`` it is also written there as JSON (atomically). ``progress`` gets each stage's name.
    CaloChallenge HDF5 files are read in chunks (:func:`hepgan.metrics.physics.files.evaluate_files`),
    so their size is not bounded by memory; other formats are loaded whole.
    """
    import json

    from hepgan.data.files import atomic_output
    from hepgan.metrics.physics.files import evaluate_files

    if out is not None and not Path(out).parent.is_dir():  # fail before the work, not after
        from hepgan.errors import DataError

        raise DataError(out, f"cannot write: directory {str(Path(out).parent)!r} does not exist")
    result = evaluate_files(generated, reference, geometry=geometry, classifier=classifier, per_energy=per_energy,
                            seed=seed, progress=progress, high_level_model=high_level_model)
    if out is not None:
        with atomic_output(out) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    return result


def report(run_dir: str | Path | None = None, *, generated=None, reference=None, out: str | Path | None = None,
           geometry: str | None = None, classifier: bool = True, seed: int = 0,
           thresholds: dict[str, float] | None = None, response_reference: int = 0) -> Path:
    """Write the HTML report (and metrics.json beside it) for a run directory, or for generated vs
    reference shower files; returns the HTML path. ``response_reference``: fresh
    reference-simulator showers per energy for the response and width table (runs on simulated
    data)."""
    from hepgan.report import report as write_report

    return write_report(run_dir, generated=generated, reference=reference, out=out, geometry=geometry,
                        classifier=classifier, seed=seed, thresholds=thresholds,
                        response_reference=response_reference)


def export(run_dir: str | Path, *, format: str = "onnx", out: str | Path, opset: int | None = None,
           which: str = "best"):
    """Export a run's generator (best checkpoint, else last) to ONNX or lwtnn JSON, verified before writing.

    Returns the export result (``path``, ``size``, ``info``, ``verification``); see docs/export.md.
    """
    from hepgan.export.info import model_kind
    from hepgan.train.generator import TrainedGenerator

    if format not in ("onnx", "lwtnn"):
        raise ConfigError(f"unknown export format {format!r}; valid: lwtnn, onnx")
    if model_kind(run_dir) != "run":
        raise ConfigError(f"{run_dir}: expected a run directory (it holds checkpoints/), got a file")
    if not Path(out).parent.is_dir():  # fail before the work, not after
        from hepgan.errors import DataError

        raise DataError(out, f"cannot write: directory {str(Path(out).parent)!r} does not exist")
    gen = TrainedGenerator.from_run(run_dir, which=which)
    if format == "lwtnn":
        if opset is not None:
            raise ConfigError("--opset applies to --format onnx only")
        from hepgan.export.lwtnn import export_lwtnn

        return export_lwtnn(gen, out, source=str(run_dir))
    from hepgan.export.onnx import OPSET, export_onnx

    return export_onnx(gen, out, opset=OPSET if opset is None else opset, source=str(run_dir))


def generate(model: str | Path, *, out: str | Path, energies_gev=None, events: int | None = None,
             like: str | Path | None = None, spectrum: str | None = None, eta: float | None = None,
             backend: str | None = None, seed: int = 0, chunk_size: int = 10_000, strict: bool = False,
             warn=None):
    """Stream generated showers into an HDF5 file in the data's layout, for exactly one of:
    ``events`` showers per energy in ``energies_gev`` (GeV); one shower per row of the reference
    file ``like``, at its energies and impact points; or the named ``spectrum`` (see
    :mod:`hepgan.sim.spectra`), ``events`` showers in all when given.

    ``model`` is a run directory, an exported .onnx file or an lwtnn .json file; ``backend`` is
    torch, onnx or numpy (default: torch for runs, the file's own otherwise). Conditions outside
    the trained range are passed to ``warn`` (default: ``warnings.warn``), or refused with
    ``strict``. Returns a :class:`hepgan.export.generate.GenerateResult`.
    """
    from hepgan.export.generate import generate_file

    return generate_file(model, out, energies_gev=energies_gev, events=events, like=like, spectrum=spectrum, eta=eta,
                         backend=backend, seed=seed, chunk_size=chunk_size, strict=strict, warn=warn)
