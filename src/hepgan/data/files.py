"""File-handling pieces every reader and writer shares: atomic output, one-line errors,
existence checks, finite-value checks with row numbers, and JSON for metadata."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.errors import DataError


def one_line(error: BaseException) -> str:
    """An exception's text squashed onto one line (HDF5/uproot messages span several)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def temp_path_for(path: Path) -> Path:
    """A hidden, unique sibling of ``path``: same directory so ``os.replace`` is atomic."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path to write; move it onto ``path`` on success, delete it on any failure."""
    path = Path(path)
    if not path.parent.is_dir():
        raise DataError(path, f"cannot write: directory {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise DataError(path, "cannot write: a directory of that name exists")
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def require_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or a DataError saying it is missing or a directory."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file")
    if path.is_dir():
        raise DataError(path, "is a directory, not a data file")
    return path


def check_finite_rows(array: np.ndarray, what: str, source: object, row_offset: int = 0) -> None:
    """Raise a DataError naming ``what`` and the absolute row of the first NaN/inf in ``array``."""
    if array.dtype.kind not in "fc" or array.size == 0:
        return
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    first = np.unravel_index(int(np.argmax(bad)), array.shape)
    if array.ndim == 0:
        raise DataError(source, f"{what} is not finite ({array[()]})")
    where = f"row {row_offset + int(first[0])}"
    if array.ndim > 1:
        where += f", column {', '.join(str(int(i)) for i in first[1:])}"
    raise DataError(
        source,
        f"{what} contains {int(bad.sum())} non-finite value(s) (first: {array[first]} at {where})",
    )


def check_positive_energies(energies: np.ndarray, source: object, row_offset: int = 0) -> None:
    """Raise a DataError naming the absolute row and value of the first incident energy that is not
    positive: a shower needs a particle that brought energy."""
    flat = np.asarray(energies).reshape(-1)
    bad = ~(flat > 0)
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(source, f"row {row_offset + first}: incident energy must be positive, got {flat[first]:g} MeV "
                                f"({int(bad.sum())} such row(s))")


def resolve_geometry(source: object, requested: str | None, in_file: str | None,
                     n_cells: int | None = None) -> str | None:
    """The geometry of a shower file's rows: the one requested, else the one the file names. Refused
    when the two disagree, and, given ``n_cells``, when neither is given and no known geometry has
    that many cells (the columns could then be anything)."""
    if requested is not None and in_file is not None and requested != in_file:
        raise DataError(source, f"file is for geometry {in_file!r}, but geometry {requested!r} was requested")
    name = requested if requested is not None else in_file
    if name is None and n_cells is not None:
        from hepgan.geometry import get_geometry, list_geometries

        sizes = {g: get_geometry(g).n_cells for g in list_geometries()}
        if n_cells not in sizes.values():
            known = ", ".join(f"{g} {n:,}" for g, n in sorted(sizes.items(), key=lambda kv: kv[1]))
            raise DataError(source, f"{n_cells:,} cells per shower match no known geometry ({known}); name the "
                                    "geometry (--geometry NAME, or the path of a CaloChallenge binning XML)")
    return name


def json_default(value: Any) -> Any:
    """Let numpy scalars and arrays in ``attrs`` serialise as plain JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def attrs_to_json(attrs: dict, source: object) -> str:
    try:
        return json.dumps(attrs, default=json_default)
    except (TypeError, ValueError) as error:
        raise DataError(source, f"attrs cannot be stored as JSON: {one_line(error)}") from None


def read_yaml_mapping(path: str | os.PathLike, what: str) -> dict:
    """A YAML file's top-level mapping; unreadable files, bad YAML and non-mappings are ConfigErrors."""
    import yaml

    from hepgan.errors import ConfigError

    try:
        values = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a {what} must be a mapping of key: value")
    return values
