"""MNIST's IDX format: a 4-byte magic (0, 0, type code, number of dims), big-endian uint32 dims,
then the big-endian payload. Files may be gzip-compressed; that is detected from the content,
not the name, because renamed and re-compressed copies of MNIST are common.
"""

from __future__ import annotations

import gzip as _gzip
import os
import zlib
from pathlib import Path

import numpy as np

from hepgan.data.files import atomic_output, one_line, require_file
from hepgan.data.showers import ImageData
from hepgan.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
TYPE_CODES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype: code for code, dtype in TYPE_CODES.items()}

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _decode(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 4:
        raise DataError(path, f"too short for an IDX header: {len(raw)} bytes")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(path, f"not an IDX file: magic starts 0x{raw[0]:02x} 0x{raw[1]:02x}, expected 0x00 0x00")
    code, ndim = raw[2], raw[3]
    if code not in TYPE_CODES:
        valid = ", ".join(f"0x{c:02x}" for c in TYPE_CODES)
        raise DataError(path, f"unknown IDX type code 0x{code:02x} (valid: {valid})")
    if ndim == 0:
        raise DataError(path, "IDX header says 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(path, f"truncated IDX header: {ndim} dimensions need {header} bytes, file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = TYPE_CODES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "has trailing bytes"
        raise DataError(
            path,
            f"IDX payload {what}: header (shape {shape}, {dtype.newbyteorder('=').name}) needs {expected} bytes, "
            f"found {found}",
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a native-endian array."""
    path = require_file(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(path, f"cannot read: {one_line(error)}") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = _gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(path, f"corrupt gzip stream (truncated?): {one_line(error)}") from None
    return _decode(raw, path)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, gzip: bool = False) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``gzip``), atomically."""
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if native not in _CODE_OF:
        names = ", ".join(d.newbyteorder("=").name for d in TYPE_CODES.values())
        raise DataError(path, f"dtype {array.dtype} cannot be stored in IDX (supported: {names})")
    if not 1 <= array.ndim <= 255:
        raise DataError(path, f"IDX holds 1 to 255 dimensions, got {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise DataError(path, f"IDX dimensions must be below 2**32, got shape {array.shape}")
    code = _CODE_OF[native]
    payload = (
        bytes([0, 0, code, array.ndim])
        + np.asarray(array.shape, dtype=">u4").tobytes()
        + np.ascontiguousarray(array, dtype=TYPE_CODES[code]).tobytes()
    )
    if gzip:
        payload = _gzip.compress(payload, mtime=0)
    with atomic_output(path) as tmp:
        tmp.write_bytes(payload)


def _find(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(directory, f"no {name} or {name}.gz in this directory")


def read_mnist(directory: str | os.PathLike, split: str = "train") -> ImageData:
    """The MNIST ``train`` or ``test`` split from a directory of IDX files (raw or .gz)."""
    directory = Path(directory)
    if split not in MNIST_FILES:
        raise DataError(directory, f"unknown MNIST split {split!r}; valid: {', '.join(MNIST_FILES)}")
    if not directory.is_dir():
        raise DataError(directory, "no such directory")
    image_path, label_path = (_find(directory, name) for name in MNIST_FILES[split])
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3:
        raise DataError(image_path, f"MNIST images must be 3-D (N, H, W), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(label_path, f"MNIST labels must be 1-D (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            directory, f"{image_path.name} has {len(images)} images but {label_path.name} has {len(labels)} labels"
        )
    return ImageData(images=images, labels=labels, source=str(image_path))


__all__ = ["read_idx", "read_mnist", "write_idx"]
