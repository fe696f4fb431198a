"""One entry point for every shower file format, so commands take any file the user has.

Reading looks at the file's first bytes (HDF5, ROOT and zip signatures) before its extension,
since files are often renamed; writing goes by the extension, which is all there is to go on.
"""

from __future__ import annotations

import os
from pathlib import Path

from hepgan.data.calogan import read_calogan
from hepgan.data.files import require_file, resolve_geometry
from hepgan.data.hdf5 import open_hdf5, read_showers, write_showers
from hepgan.data.npz import read_npz, write_npz
from hepgan.data.root import read_root_showers, write_root_showers
from hepgan.data.showers import ShowerData
from hepgan.errors import DataError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ROOT_SIGNATURE = b"root"
ZIP_SIGNATURE = b"PK\x03\x04"
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
SUPPORTED = "CaloChallenge or CaloGAN HDF5 (.h5, .hdf5), ROOT trees (.root), NumPy archives (.npz)"


def detect_format(path: Path) -> str | None:
    """'hdf5', 'root', 'npz' from the content, else from the extension, else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if head != HDF5_SIGNATURE:  # HDF5 may sit behind a user block of 512, 1024, ... bytes
                offset = 512
                while offset <= 1 << 20:
                    handle.seek(offset)
                    if handle.read(8) == HDF5_SIGNATURE:
                        return "hdf5"
                    offset *= 2
    except OSError as error:
        raise DataError(path, f"cannot read: {error.strerror or error}") from None
    if head == HDF5_SIGNATURE:
        return "hdf5"
    if head.startswith(ROOT_SIGNATURE):
        return "root"
    if head.startswith(ZIP_SIGNATURE):
        return "npz"
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        return "hdf5"
    return {".root": "root", ".npz": "npz"}.get(suffix)


def is_calogan_file(path: Path) -> bool:
    """An HDF5 file in the CaloGAN layout (layer_0..2) rather than the CaloChallenge one."""
    with open_hdf5(path) as f:
        return "layer_0" in f and "showers" not in f


def load_showers(path: str | os.PathLike, geometry: str | None = None, **kwargs) -> ShowerData:
    """Read showers from any supported file; ``kwargs`` go to the format's reader."""
    path = require_file(path)
    kind = detect_format(path)
    if kind == "hdf5":
        if is_calogan_file(path):
            if geometry not in (None, "calogan"):
                raise DataError(
                    path, f"is a CaloGAN file (geometry 'calogan'), but geometry {geometry!r} was requested"
                )
            return read_calogan(path, **kwargs)
        return read_showers(path, geometry=geometry, **kwargs)
    if kind not in ("root", "npz"):
        raise DataError(path, f"unrecognised shower file format; supported: {SUPPORTED}")
    data = (read_root_showers if kind == "root" else read_npz)(path, geometry=geometry, **kwargs)
    resolve_geometry(path, data.geometry, None, data.showers.shape[1])  # showers on a known detector
    return data


def save_showers(path: str | os.PathLike, data: ShowerData, **kwargs) -> None:
    """Write showers in the format the extension names; ``kwargs`` go to the format's writer."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        return write_showers(path, data, **kwargs)
    if suffix == ".npz":
        return write_npz(path, data, **kwargs)
    if suffix == ".root":
        return write_root_showers(path, data, **kwargs)
    raise DataError(path, f"cannot tell the format from the extension {suffix or '(none)'!r}; supported: {SUPPORTED}")


__all__ = ["detect_format", "is_calogan_file", "load_showers", "save_showers"]
