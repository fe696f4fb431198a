"""The CaloChallenge HDF5 layout: ``incident_energies`` (N, 1) and ``showers`` (N, n_cells) in MeV.

Extra per-shower conditions (e.g. ``impact_eta``) are stored as their own (N, k) datasets. Three
file attributes carry what the layout itself cannot: ``geometry`` (the geometry name),
``hepgan_attrs`` (JSON of :attr:`ShowerData.attrs`) and ``hepgan_conditions`` (JSON list naming
the condition datasets). Files written by other tools lack them, so readers fall back to treating
every other (N, k) dataset as a condition.

Writers are atomic (temp file + ``os.replace``) so an interrupted job never leaves a half-written
file under the final name, and readers turn every h5py/HDF5 failure into a one-line
:class:`~hepgan.errors.DataError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hepgan.data.files import (
    atomic_output,
    attrs_to_json,
    check_finite_rows,
    check_positive_energies,
    one_line,
    require_file,
    resolve_geometry,
    temp_path_for,
)
from hepgan.data.showers import ShowerData
from hepgan.errors import DataError

REQUIRED = ("incident_energies", "showers")
GEOMETRY_ATTR = "geometry"
ATTRS_ATTR = "hepgan_attrs"
CONDITIONS_ATTR = "hepgan_conditions"


# --------------------------------------------------------------------------- helpers


def open_hdf5(path: str | os.PathLike) -> h5py.File:
    """Open an HDF5 file read-only, turning 'not HDF5' and 'truncated' into a DataError."""
    path = require_file(path)
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError, RuntimeError) as error:
        raise DataError(path, f"not a readable HDF5 file (truncated or corrupt?): {one_line(error)}") from None


def _attr_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _attr_text(value[()])
    return str(value)


def _check_condition_names(names: Sequence[str], source: object) -> None:
    for name in names:
        if not isinstance(name, str) or not name or "/" in name or name in REQUIRED:
            raise DataError(
                source,
                f"condition name {name!r} cannot be an HDF5 dataset name (empty, contains '/' or is "
                f"one of {', '.join(REQUIRED)})",
            )


def _write_file_attrs(f: h5py.File, geometry: str | None, attrs: dict, conditions: Sequence[str], source) -> None:
    if geometry is not None:
        f.attrs[GEOMETRY_ATTR] = str(geometry)
    f.attrs[ATTRS_ATTR] = attrs_to_json(attrs, source)
    f.attrs[CONDITIONS_ATTR] = json.dumps(list(conditions))


def _dataset_options(shape: tuple[int, ...], chunk_rows: int, compression, compression_opts) -> dict:
    rows = max(1, min(chunk_rows, shape[0])) if shape[0] else max(1, chunk_rows)
    options: dict[str, Any] = {"chunks": (rows, *(max(1, s) for s in shape[1:]))}
    if compression is not None:
        options["compression"] = compression
        if compression == "gzip" and compression_opts is not None:
            options["compression_opts"] = compression_opts
    return options


# --------------------------------------------------------------------------- writing


def write_showers(
    path: str | os.PathLike,
    data: ShowerData,
    *,
    compression: str | None = "gzip",
    compression_opts: int | None = 4,
) -> None:
    """Write ``data`` in the CaloChallenge layout, atomically, keeping every dtype as it is."""
    path = Path(path)
    _check_condition_names(list(data.conditions), path)
    arrays = {"incident_energies": data.incident_energies, "showers": data.showers, **data.conditions}
    with atomic_output(path) as tmp:
        try:
            with h5py.File(tmp, "w") as f:
                _write_file_attrs(f, data.geometry, data.attrs, list(data.conditions), path)
                for name, array in arrays.items():
                    array = np.ascontiguousarray(array)
                    row_bytes = array.dtype.itemsize * int(np.prod(array.shape[1:]))
                    chunk_rows = max(1, (1 << 20) // max(1, row_bytes))  # ~1 MiB chunks
                    f.create_dataset(
                        name, data=array, **_dataset_options(array.shape, chunk_rows, compression, compression_opts)
                    )
        except (OSError, ValueError, TypeError) as error:
            raise DataError(path, f"cannot write HDF5: {one_line(error)}") from None


class ShowerWriter:
    """Stream showers into one HDF5 file chunk by chunk, holding at most one chunk in memory.

    The file appears under its final name only when :meth:`close` succeeds; leaving a ``with``
    block by an exception deletes the partial temp file and leaves any existing target untouched.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        n_cells: int,
        geometry: str | None = None,
        condition_names: Sequence[str] = (),
        attrs: dict | None = None,
        shower_dtype=np.float32,
        energy_dtype=np.float64,
        compression: str | None = "gzip",
        chunk_rows: int | None = None,
    ):
        self.path = Path(path)
        if int(n_cells) <= 0:
            raise DataError(self.path, f"n_cells must be positive, got {n_cells}")
        if chunk_rows is not None and int(chunk_rows) <= 0:
            raise DataError(self.path, f"chunk_rows must be positive, got {chunk_rows}")
        if geometry is not None:
            from hepgan.geometry import get_geometry

            expected = get_geometry(geometry).n_cells
            if expected != n_cells:
                raise DataError(self.path, f"geometry {geometry!r} has {expected} cells but n_cells is {n_cells}")
        self.n_cells = int(n_cells)
        self.geometry = geometry
        self.condition_names = tuple(condition_names)
        if len(set(self.condition_names)) != len(self.condition_names):
            raise DataError(self.path, f"condition names repeat: {list(self.condition_names)}")
        _check_condition_names(self.condition_names, self.path)
        self.attrs = dict(attrs or {})
        self.shower_dtype = np.dtype(shower_dtype)
        self.energy_dtype = np.dtype(energy_dtype)
        self.compression = compression
        self.chunk_rows = None if chunk_rows is None else int(chunk_rows)
        self._rows = 0
        self._file: h5py.File | None = None
        self._tmp: Path | None = None
        if not self.path.parent.is_dir():
            raise DataError(self.path, f"cannot write: directory {str(self.path.parent)!r} does not exist")
        tmp = temp_path_for(self.path)
        try:
            self._file = h5py.File(tmp, "w")
            self._tmp = tmp
            _write_file_attrs(self._file, geometry, self.attrs, self.condition_names, self.path)
            self._create("incident_energies", 1, self.energy_dtype)
            self._create("showers", self.n_cells, self.shower_dtype)
        except BaseException as error:
            self.abort()
            tmp.unlink(missing_ok=True)
            if isinstance(error, (OSError, ValueError, TypeError)):
                raise DataError(self.path, f"cannot create HDF5 file: {one_line(error)}") from None
            raise

    def _create(self, name: str, width: int, dtype: np.dtype) -> h5py.Dataset:
        rows = self.chunk_rows
        if rows is None:  # ~1 MiB per HDF5 chunk, so that reading a few rows decompresses little
            rows = min(65536, max(1, (1 << 20) // (np.dtype(dtype).itemsize * max(1, width))))
        options = _dataset_options((0, width), rows, self.compression, None)
        return self._file.create_dataset(name, shape=(0, width), maxshape=(None, width), dtype=dtype, **options)

    def __len__(self) -> int:
        return self._rows

    def append(self, data: ShowerData) -> None:
        """Add the rows of ``data`` (cast to the writer's dtypes) to the end of the file."""
        if self._file is None:
            raise DataError(self.path, "the writer is closed")
        if data.n_cells != self.n_cells:
            raise DataError(
                self.path, f"cannot append showers with {data.n_cells} cells to a file of {self.n_cells} cells"
            )
        if self.geometry is not None and data.geometry is not None and data.geometry != self.geometry:
            raise DataError(self.path, f"cannot append geometry {data.geometry!r} showers to a {self.geometry!r} file")
        if set(data.conditions) != set(self.condition_names):
            missing = sorted(set(self.condition_names) - set(data.conditions))
            extra = sorted(set(data.conditions) - set(self.condition_names))
            raise DataError(self.path, f"conditions do not match the writer's: missing {missing}, unexpected {extra}")
        n = len(data)
        if n == 0:
            return
        try:
            casted = {
                "incident_energies": data.incident_energies.astype(self.energy_dtype, copy=False),
                "showers": data.showers.astype(self.shower_dtype, copy=False),
            }
            for name in self.condition_names:  # check everything before writing anything
                value = data.conditions[name]
                if name in self._file:
                    dataset = self._file[name]
                    if value.shape[1] != dataset.shape[1]:
                        raise DataError(
                            self.path,
                            f"condition {name!r} has {value.shape[1]} columns, earlier appends had {dataset.shape[1]}",
                        )
                    value = value.astype(dataset.dtype, copy=False)
                casted[name] = value
            for name, value in casted.items():
                if name not in self._file:  # conditions take the dtype and width of their first append
                    self._create(name, value.shape[1], value.dtype)
                self._extend(name, value)
        except (OSError, ValueError, TypeError) as error:
            raise DataError(self.path, f"cannot append to HDF5 file: {one_line(error)}") from None
        self._rows += n

    def _extend(self, name: str, values: np.ndarray) -> None:
        dataset = self._file[name]
        start = dataset.shape[0]
        dataset.resize(start + values.shape[0], axis=0)
        dataset[start:] = values

    def close(self) -> None:
        """Finish the file and move it onto the target path (a second call does nothing)."""
        if self._file is None:
            return
        try:
            for name in self.condition_names:  # no rows were appended: still leave every dataset
                if name not in self._file:
                    self._create(name, 1, self.energy_dtype)
            self._file.close()
            self._file = None
            os.replace(self._tmp, self.path)
            self._tmp = None
        except BaseException as error:
            self.abort()
            if isinstance(error, OSError):
                raise DataError(self.path, f"cannot finish HDF5 file: {one_line(error)}") from None
            raise

    def abort(self) -> None:
        """Drop everything written so far; the target path is left as it was."""
        if self._file is not None:
            try:
                self._file.close()
            except Exception:
                pass
            self._file = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def __enter__(self) -> "ShowerWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:  # a writer never closed leaves no hidden temp file behind
        try:
            self.abort()
        except Exception:
            pass


# --------------------------------------------------------------------------- reading


class ShowerFile:
    """A CaloChallenge HDF5 file opened for reading in row ranges, never loaded whole.

    Everything that can be checked without reading the data (keys, shapes, geometry) is checked
    when the file is opened, so a bad file fails at once with a message saying what is wrong.
    """

    def __init__(self, path: str | os.PathLike, geometry: str | None = None):
        self.path = Path(path)
        self._file: h5py.File | None = open_hdf5(self.path)
        try:
            self._validate(geometry)
        except BaseException:
            self.close()
            raise

    def _fail(self, problem: str) -> DataError:
        return DataError(self.path, problem)

    def _validate(self, geometry: str | None) -> None:
        f = self._file
        try:
            keys = list(f.keys())
            for name in REQUIRED:
                if name not in f:
                    hint = " (it looks like a CaloGAN file: use read_calogan)" if "layer_0" in keys else ""
                    raise self._fail(
                        f"missing dataset {name!r}; the file has: {', '.join(keys) or 'no datasets'}{hint}"
                    )
                if not isinstance(f[name], h5py.Dataset):
                    raise self._fail(f"{name!r} is a group, not a dataset")
            showers, energies = f["showers"], f["incident_energies"]
            for name, ds in (("showers", showers), ("incident_energies", energies)):
                if ds.dtype.kind not in "fiu":
                    raise self._fail(f"dataset {name!r} has non-numeric dtype {ds.dtype}")
            if showers.ndim != 2:
                raise self._fail(f"dataset 'showers' must be 2-D (N, n_cells), got shape {showers.shape}")
            n = showers.shape[0]
            if energies.ndim not in (1, 2) or (energies.ndim == 2 and energies.shape[1] != 1):
                raise self._fail(f"dataset 'incident_energies' must have shape (N, 1) or (N,), got {energies.shape}")
            if energies.shape[0] != n:
                raise self._fail(
                    f"'incident_energies' has {energies.shape[0]} rows but 'showers' has {n} (shapes "
                    f"{energies.shape} and {showers.shape})"
                )
            self._n, self._n_cells = int(n), int(showers.shape[1])

            file_geometry = _attr_text(f.attrs[GEOMETRY_ATTR]) if GEOMETRY_ATTR in f.attrs else None
            self._geometry = resolve_geometry(self.path, geometry, file_geometry, self._n_cells)
            if self._geometry is not None:
                from hepgan.geometry import get_geometry

                expected = get_geometry(self._geometry).n_cells
                if expected != self._n_cells:
                    raise self._fail(
                        f"geometry {self._geometry!r} has {expected} cells but 'showers' has {self._n_cells} columns"
                    )

            self._attrs: dict = {}
            if ATTRS_ATTR in f.attrs:
                try:
                    self._attrs = json.loads(_attr_text(f.attrs[ATTRS_ATTR]))
                except json.JSONDecodeError as error:
                    raise self._fail(f"attribute {ATTRS_ATTR!r} is not valid JSON: {error}") from None
                if not isinstance(self._attrs, dict):
                    raise self._fail(f"attribute {ATTRS_ATTR!r} must be a JSON object")

            if CONDITIONS_ATTR in f.attrs:
                try:
                    names = json.loads(_attr_text(f.attrs[CONDITIONS_ATTR]))
                except json.JSONDecodeError as error:
                    raise self._fail(f"attribute {CONDITIONS_ATTR!r} is not valid JSON: {error}") from None
                if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
                    raise self._fail(f"attribute {CONDITIONS_ATTR!r} must be a JSON list of dataset names")
                for name in names:
                    ds = f.get(name)
                    if not isinstance(ds, h5py.Dataset):
                        raise self._fail(
                            f"condition dataset {name!r} listed in {CONDITIONS_ATTR!r} is missing; the file has: "
                            f"{', '.join(keys)}"
                        )
                    if ds.ndim not in (1, 2) or ds.shape[0] != n:
                        raise self._fail(f"condition dataset {name!r} must have shape ({n}, k), got {ds.shape}")
            else:
                names = [
                    name
                    for name in keys
                    if name not in REQUIRED
                    and isinstance(f[name], h5py.Dataset)
                    and f[name].ndim in (1, 2)
                    and f[name].shape[0] == n
                    and f[name].dtype.kind in "fiub"
                ]
            self._condition_names = list(names)
        except (OSError, RuntimeError, KeyError) as error:
            raise self._fail(f"cannot read file structure (truncated or corrupt?): {one_line(error)}") from None

    # -- properties

    def __len__(self) -> int:
        return self._n

    @property
    def n_cells(self) -> int:
        return self._n_cells

    @property
    def geometry(self) -> str | None:
        return self._geometry

    @property
    def attrs(self) -> dict:
        return dict(self._attrs)

    @property
    def condition_names(self) -> list[str]:
        return list(self._condition_names)

    # -- reading

    def read(self, start: int = 0, stop: int | None = None, *, check_finite: bool = True) -> ShowerData:
        """Rows ``start:stop`` (Python slice semantics) as a ShowerData."""
        if self._file is None:
            raise self._fail("file is closed")
        start, stop, _ = slice(start, stop).indices(self._n)
        stop = max(start, stop)
        arrays = {}
        for name in (*REQUIRED, *self._condition_names):
            try:
                arrays[name] = self._file[name][start:stop]
            except (OSError, RuntimeError, KeyError, ValueError) as error:
                raise self._fail(
                    f"cannot read dataset {name!r} rows {start}-{stop} (truncated or corrupt?): {one_line(error)}"
                ) from None
            if check_finite:
                check_finite_rows(arrays[name], f"dataset {name!r}", self.path, start)
        energies = arrays["incident_energies"].reshape(-1, 1)
        check_positive_energies(energies, self.path, start)
        conditions = {}
        for name in self._condition_names:
            value = arrays[name]
            conditions[name] = value.reshape(-1, 1) if value.ndim == 1 else value
        return ShowerData(
            showers=arrays["showers"],
            incident_energies=energies,
            conditions=conditions,
            geometry=self._geometry,
            attrs=self.attrs,
            source=str(self.path),
        )

    def read_conditions(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every row's incident energy (N, 1) and named conditions (N, k), without the showers:
        what deciding which rows to use needs, at a few bytes per shower."""
        if self._file is None:
            raise self._fail("file is closed")
        arrays = {}
        for name in ("incident_energies", *self._condition_names):
            try:
                value = self._file[name][:]
            except (OSError, RuntimeError, KeyError, ValueError) as error:
                raise self._fail(f"cannot read dataset {name!r} (truncated or corrupt?): {one_line(error)}") from None
            check_finite_rows(value, f"dataset {name!r}", self.path, 0)
            arrays[name] = value.reshape(len(value), -1)
        energies = arrays.pop("incident_energies")
        check_positive_energies(energies, self.path)
        return energies, arrays

    def iter_chunks(self, chunk_size: int = 10000, *, check_finite: bool = True) -> Iterator[ShowerData]:
        """Consecutive blocks of ``chunk_size`` rows (the last may be shorter)."""
        if int(chunk_size) <= 0:
            raise self._fail(f"chunk_size must be positive, got {chunk_size}")
        for start in range(0, self._n, int(chunk_size)):
            yield self.read(start, start + int(chunk_size), check_finite=check_finite)

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

    def __enter__(self) -> "ShowerFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ShowerFile({str(self.path)!r}, {self._n} showers x {self._n_cells} cells, geometry={self._geometry!r})"


def read_showers(
    path: str | os.PathLike,
    geometry: str | None = None,
    start: int = 0,
    stop: int | None = None,
    check_finite: bool = True,
) -> ShowerData:
    """Read rows ``start:stop`` of a CaloChallenge HDF5 file in one call."""
    with ShowerFile(path, geometry) as f:
        return f.read(start, stop, check_finite=check_finite)


__all__ = ["ShowerFile", "ShowerWriter", "read_showers", "write_showers"]
