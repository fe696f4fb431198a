"""The functions behind the ``hepgan`` command: each CLI verb calls the function of the same name."""

from __future__ import annotations

from pathlib import Path

from hepgan.data.showers import ShowerData
from hepgan.data.summary import ShowerSummary
from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry, list_geometries
from hepgan.sim.config import SimConfig, load_sim_config  # noqa: F401  (the CLI reads simulator configs through here)
from hepgan.sim.simulate import simulate as run_simulation


def simulate(config: SimConfig | None = None, *, out: str | Path | None = None, progress: bool = False,
             workers: int = 1, **overrides):
    """Simulate showers with the reference simulator: a :class:`ShowerData` in memory, or with
    ``out`` a CaloChallenge-layout HDF5 file written chunk by chunk and its per-energy
    :class:`ShowerSummary` (see :func:`hepgan.sim.simulate`)."""
    return run_simulation(config, out=out, progress=progress, workers=workers, **overrides)


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
