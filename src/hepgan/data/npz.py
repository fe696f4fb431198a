"""Showers as a NumPy ``.npz`` archive: quick to write from scripts and readable without h5py.

Keys: ``showers``, ``incident_energies``, ``cond_<name>`` per condition and ``meta``, a JSON
string with the geometry, attrs and condition order. No pickles, so files load with
``allow_pickle=False`` and cannot run code.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from hepgan.data.files import (
    atomic_output,
    attrs_to_json,
    check_finite_rows,
    check_positive_energies,
    one_line,
    require_file,
    resolve_geometry,
)
from hepgan.data.showers import ShowerData
from hepgan.errors import DataError

COND_PREFIX = "cond_"
REQUIRED = ("showers", "incident_energies")


def write_npz(path: str | os.PathLike, data: ShowerData) -> None:
    """Write ``data`` as a compressed ``.npz``, atomically, keeping every dtype."""
    path = Path(path)
    meta = {
        "geometry": data.geometry,
        "attrs": json.loads(attrs_to_json(data.attrs, path)),
        "conditions": list(data.conditions),
    }
    arrays = {"showers": data.showers, "incident_energies": data.incident_energies}
    arrays.update({COND_PREFIX + name: value for name, value in data.conditions.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_output(path) as tmp:
        try:
            with open(tmp, "wb") as handle:  # a handle, so numpy does not append '.npz' to the temp name
                np.savez_compressed(handle, **arrays)
        except (OSError, ValueError) as error:
            raise DataError(path, f"cannot write .npz: {one_line(error)}") from None


_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError)


def read_npz(path: str | os.PathLike, geometry: str | None = None, check_finite: bool = True) -> ShowerData:
    """Read a ``.npz`` written by :func:`write_npz` (or any archive with the two required keys)."""
    path = require_file(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except _READ_ERRORS as error:
        raise DataError(path, f"not a readable .npz archive (truncated or corrupt?): {one_line(error)}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(path, "is a single .npy array, not a .npz archive")
    with archive:
        keys = list(archive.files)
        for name in REQUIRED:
            if name not in keys:
                raise DataError(path, f"missing key {name!r}; the archive has: {', '.join(sorted(keys)) or 'nothing'}")
        try:
            meta = json.loads(str(archive["meta"][()])) if "meta" in keys else {}
        except json.JSONDecodeError as error:
            raise DataError(path, f"key 'meta' is not valid JSON: {error}") from None
        except _READ_ERRORS as error:
            raise DataError(path, f"cannot read key 'meta' (truncated or corrupt?): {one_line(error)}") from None
        if not isinstance(meta, dict):
            raise DataError(path, "key 'meta' must hold a JSON object")
        listed = meta.get("conditions")
        if isinstance(listed, list):
            names = listed
        else:
            names = [k[len(COND_PREFIX):] for k in keys if k.startswith(COND_PREFIX)]
        arrays = {}
        for key in (*REQUIRED, *(COND_PREFIX + name for name in names)):
            if key not in keys:
                listing = ", ".join(sorted(keys))
                raise DataError(path, f"missing key {key!r} (listed in 'meta'); the archive has: {listing}")
            try:
                arrays[key] = archive[key]
            except _READ_ERRORS as error:
                raise DataError(path, f"cannot read key {key!r} (truncated or corrupt?): {one_line(error)}") from None
            if arrays[key].dtype.kind not in "fiub":
                raise DataError(path, f"key {key!r} is not numeric (dtype {arrays[key].dtype})")
    showers, energies = arrays["showers"], arrays["incident_energies"]
    if showers.ndim != 2:
        raise DataError(path, f"key 'showers' must be 2-D (N, n_cells), got shape {showers.shape}")
    n = showers.shape[0]
    if energies.ndim not in (1, 2) or (energies.ndim == 2 and energies.shape[1] != 1):
        raise DataError(path, f"key 'incident_energies' must have shape (N, 1) or (N,), got {energies.shape}")
    if energies.shape[0] != n:
        raise DataError(path, f"'incident_energies' has {energies.shape[0]} rows but 'showers' has {n}")
    geometry = resolve_geometry(path, geometry, meta.get("geometry"))
    if check_finite:
        for key, value in arrays.items():
            check_finite_rows(value, f"key {key!r}", path)
    check_positive_energies(energies, path)
    attrs = meta.get("attrs")
    return ShowerData(
        showers=showers,
        incident_energies=energies,
        conditions={name: arrays[COND_PREFIX + name] for name in names},
        geometry=geometry,
        attrs=attrs if isinstance(attrs, dict) else {},
        source=str(path),
    )


__all__ = ["read_npz", "write_npz"]
