"""Physics metrics of shower files too large to hold: each HDF5 file is read once, in chunks.

A set of 100,000 CaloChallenge dataset 3 showers is 16 GB of float32 cells, but only a few
hundred observables a shower. So each chunk is reduced to its observables and dropped, and the
low-level classifier's rows (at most ``low_level_memory`` bytes for both sets, spread evenly
over each file) are picked out during the same pass; every later stage is the one of
:func:`hepgan.metrics.physics.evaluate_showers` (:func:`evaluate_observed`), so a file gives the
same numbers read in chunks as loaded whole. Memory then grows with the observables, not with
the cells: a few GB for two 100,000-shower dataset 3 files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from hepgan.data.showers import ShowerData
from hepgan.errors import ConfigError
from hepgan.geometry import Geometry
from hepgan.metrics.physics.classifier import limited_threads
from hepgan.metrics.physics.evaluate import (
    LOW_LEVEL_MEMORY_BYTES,
    ObservedSet,
    Stages,
    check_sizes,
    common_conditions,
    evaluate_observed,
    fill_low_level,
    low_level_rows,
    low_level_width,
    observe_showers,
    resolve_geometry,
)
from hepgan.metrics.physics.observables import compute_observables

CHUNK_BYTES = 256 * 2**20  # float32 cells read at once
STORAGE_ROWS = 1024  # rows per HDF5 chunk of files written by earlier hepgan versions


class _FileSet:
    """An opened shower file as the evaluation sees it: size, geometry, conditions and chunks."""

    def __init__(self, handle):
        self.handle = handle
        self.source = str(handle.path)
        self.geometry = handle.geometry
        self.n_cells = handle.n_cells
        self.conditions = handle.condition_names

    def __len__(self) -> int:
        return len(self.handle)


def default_chunk_rows(n_cells: int) -> int:
    """Rows per read: about ``CHUNK_BYTES`` of float32 cells, in whole 1024-row HDF5 chunks
    when that many fit, so that no stored chunk is decompressed twice."""
    rows = max(1, CHUNK_BYTES // (4 * n_cells))
    return rows - rows % STORAGE_ROWS if rows >= STORAGE_ROWS else rows


def observe_file(handle, geometry: Geometry, cond_names: list[str], chunk_size: int,
                 low_level_memory: int | None) -> ObservedSet:
    """Observables (and low-level inputs of the capped rows) of an open ShowerFile, one chunk at a time."""
    n = len(handle)
    observed = ObservedSet(str(handle.path), n, {}, np.empty((0, 1)))
    if low_level_memory is not None:
        width = low_level_width(geometry, cond_names)
        observed.low_level_rows = low_level_rows(n, width, low_level_memory)
        observed.low_level = np.empty((len(observed.low_level_rows), width), np.float32)
    energies = []
    start = 0
    for chunk in handle.iter_chunks(chunk_size):
        stop = start + len(chunk)
        cond = {name: chunk.conditions[name][:, 0] for name in cond_names}
        part = compute_observables(chunk.showers, chunk.incident_energies, geometry, cond)
        if not observed.observables:
            observed.observables = {name: np.empty(n, values.dtype) for name, values in part.items()}
        for name, values in part.items():
            observed.observables[name][start:stop] = values
        energies.append(chunk.incident_energies)
        if observed.low_level is not None:
            rows = observed.low_level_rows
            first, last = np.searchsorted(rows, [start, stop])
            fill_low_level(observed.low_level, int(first), chunk, rows[first:last] - start, cond_names)
        start = stop
        del chunk, part  # the next chunk is read before the loop variable lets go of this one
    observed.incident_energies = np.concatenate(energies)
    return observed


def evaluate_files(
    generated: str | os.PathLike | ShowerData,
    reference: str | os.PathLike | ShowerData,
    geometry: str | Geometry | None = None,
    classifier: bool = True,
    per_energy: bool = True,
    seed: int = 0,
    *,
    n_bins: int = 50,
    binning: str = "quantile",
    max_per_class: int | None = None,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
    high_level_model: str = "hgb",
    chunk_size: int | None = None,
    low_level_memory: int = LOW_LEVEL_MEMORY_BYTES,
) -> dict:
    """:func:`evaluate_showers` for shower files: CaloChallenge-layout HDF5 files are read in
    chunks of ``chunk_size`` rows (default: ~256 MB of cells); other formats, and ShowerData,
    are held whole as before. Same result dict, same numbers.
    """
    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size <= 0):
        raise ConfigError(f"chunk_size must be a positive number of rows, got {chunk_size!r}")
    with ExitStack() as stack:
        sets = [_open(x, geometry, stack) for x in (generated, reference)]
        geometry = resolve_geometry(*sets, geometry)
        check_sizes(*sets)
        for s in sets:
            if isinstance(s, ShowerData):
                s.check_finite()  # file chunks are checked as they are read
        cond_names = common_conditions(sets[0].conditions, sets[1].conditions, geometry)
        rows = chunk_size or default_chunk_rows(geometry.n_cells)
        memory = low_level_memory if classifier else None
        with limited_threads(threads):
            stage = Stages(progress)
            stage("observables")
            observed = [observe_showers(s, geometry, cond_names, memory) if isinstance(s, ShowerData)
                        else observe_file(s.handle, geometry, cond_names, rows, memory) for s in sets]
            stack.close()
            del sets
            return evaluate_observed(*observed, geometry, cond_names, stage, classifier=classifier,
                                     per_energy=per_energy, seed=seed, n_bins=n_bins, binning=binning,
                                     max_per_class=max_per_class, threads=threads, high_level_model=high_level_model)


def _open(source, geometry, stack: ExitStack):
    """A ShowerData as it is; a CaloChallenge HDF5 file opened for chunked reading; any other file loaded."""
    if isinstance(source, ShowerData):
        return source
    from hepgan.data.files import require_file
    from hepgan.data.hdf5 import ShowerFile
    from hepgan.data.io import detect_format, is_calogan_file, load_showers

    name = geometry.name if isinstance(geometry, Geometry) else geometry
    path = require_file(Path(source))
    if detect_format(path) == "hdf5" and not is_calogan_file(path):
        return _FileSet(stack.enter_context(ShowerFile(path)))
    return load_showers(path, geometry=name)


__all__ = ["default_chunk_rows", "evaluate_files", "observe_file"]
