"""ROOT trees of showers or images, as TMVA users store them, read and written with uproot.

Two layouts are common: one scalar branch per cell (``cell_0``, ``cell_1``, ... ) or one
fixed-length array branch holding the whole shower. Both are read into an (N, n) array.
:func:`write_root_showers` also stores a ``hepgan_meta`` string (JSON: geometry, attrs, layout,
conditions) so a file it wrote reads back into the same :class:`ShowerData`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Sequence
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

TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD", "ROOT::RNTuple")
META_KEY = "hepgan_meta"
DEFAULT_PREFIX = "cell_"
DEFAULT_ARRAY_BRANCH = "showers"
ENERGY_UNITS = {"MeV": 1.0, "GeV": 1000.0}


def _uproot():
    import uproot

    return uproot


class _Root:
    """An open ROOT file whose every uproot failure becomes a DataError naming the file."""

    def __init__(self, path: str | os.PathLike):
        self.path = require_file(path)
        self.file = None
        try:
            self.file = _uproot().open(self.path)  # a Path: uproot does not split it at ':'
            classes = self.file.classnames(cycle=False)
        except Exception as error:
            if self.file is not None:
                self.file.close()
            raise DataError(self.path, f"not a readable ROOT file (truncated or corrupt?): {one_line(error)}") from None
        self.trees = list(dict.fromkeys(name for name, cls in classes.items() if cls in TREE_CLASSES))
        self.objects = list(dict.fromkeys(classes))

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "_Root":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tree(self, name: str | None):
        if name is None:
            if not self.trees:
                listing = ", ".join(self.objects) or "nothing"
                raise DataError(self.path, f"contains no TTree (objects: {listing})")
            if len(self.trees) > 1:
                listing = ", ".join(self.trees)
                raise DataError(self.path, f"contains {len(self.trees)} trees ({listing}); pass tree= to pick one")
            name = self.trees[0]
        elif name not in self.trees:
            raise DataError(self.path, f"no tree {name!r}; trees in the file: {', '.join(self.trees) or 'none'}")
        try:
            tree = self.file[name]
            branches = list(tree.keys())
        except Exception as error:
            problem = f"cannot read tree {name!r} (truncated or corrupt?): {one_line(error)}"
            raise DataError(self.path, problem) from None
        return name, tree, branches

    def meta(self) -> dict:
        """The JSON stored by :func:`write_root_showers`, or {} for files written elsewhere."""
        if META_KEY not in self.objects:
            return {}
        try:
            meta = json.loads(str(self.file[META_KEY]))
        except Exception:
            return {}
        return meta if isinstance(meta, dict) else {}

    def read(self, tree, tree_name: str, branch: str) -> np.ndarray:
        try:
            return tree[branch].array(library="np")
        except Exception as error:
            problem = f"cannot read branch {branch!r} of tree {tree_name!r} (truncated or corrupt?): {one_line(error)}"
            raise DataError(self.path, problem) from None


def _listing(names: list[str], limit: int = 10) -> str:
    """The first ``limit`` names, and how many there are when that is not all."""
    shown = ", ".join(names[:limit]) or "none"
    return shown + (f" ... ({len(names)} in all)" if len(names) > limit else "")


def _missing_branch(path: Path, tree_name: str, name: str, branches: list[str]) -> DataError:
    close = difflib.get_close_matches(name, branches, n=5, cutoff=0.5)
    if close:
        hint = f"close matches: {', '.join(close)}"
    else:
        hint = f"branches: {_listing(branches)}"
    return DataError(path, f"tree {tree_name!r} has no branch {name!r}; {hint}")


def _prefixed(path: Path, tree_name: str, prefix: str, branches: list[str]) -> list[str]:
    """Branches named prefix+integer, ordered by the integer, which must run 0..n-1."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)")
    found: dict[int, str] = {}
    for name in branches:
        match = pattern.fullmatch(name)
        if match:
            index = int(match.group(1))
            if index in found:
                raise DataError(
                    path, f"tree {tree_name!r}: branches {found[index]!r} and {name!r} give the same index {index}"
                )
            found[index] = name
    if not found:
        raise _missing_branch(path, tree_name, f"{prefix}0", branches)
    indices = sorted(found)
    if indices != list(range(len(indices))):
        missing = sorted(set(range(indices[-1] + 1)) - set(indices))
        shown = ", ".join(f"{prefix}{i}" for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DataError(
            path,
            f"tree {tree_name!r}: branches {prefix}<i> must be numbered 0..n-1 without gaps; found {len(indices)} "
            f"with indices up to {indices[-1]}, missing {shown}",
        )
    return [found[i] for i in indices]


def _as_columns(path: Path, tree_name: str, branch: str, values: np.ndarray) -> np.ndarray:
    """A branch's values as (N, k): scalars give k=1, fixed-size arrays are flattened."""
    if values.dtype == object:
        lengths = np.fromiter((np.size(v) for v in values), dtype=np.int64, count=len(values))
        if len(lengths) and (lengths != lengths[0]).any():
            bad = int(np.argmax(lengths != lengths[0]))
            raise DataError(
                path,
                f"branch {branch!r} of tree {tree_name!r} has varying lengths: entry 0 has {lengths[0]} values but "
                f"entry {bad} has {lengths[bad]}",
            )
        width = int(lengths[0]) if len(lengths) else 0
        values = np.stack([np.asarray(v).reshape(-1) for v in values]) if len(values) else np.zeros((0, width))
    if values.dtype.kind not in "fiub":
        raise DataError(path, f"branch {branch!r} of tree {tree_name!r} is not numeric (dtype {values.dtype})")
    return values.reshape(len(values), -1)


def _float(array: np.ndarray) -> np.ndarray:
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def _table(
    root: _Root, tree_name: str, tree, all_branches: list[str], branches, array_branch
) -> tuple[np.ndarray, list[str]]:
    """The (N, n) table and the name of the branch each column came from (for error messages)."""
    path = root.path
    if branches is not None and array_branch is not None:
        raise DataError(path, "give branches= or array_branch=, not both")
    if branches is None and array_branch is None:  # what write_root_showers writes by default
        if any(re.fullmatch(re.escape(DEFAULT_PREFIX) + r"\d+", b) for b in all_branches):
            branches = DEFAULT_PREFIX
        elif DEFAULT_ARRAY_BRANCH in all_branches:
            array_branch = DEFAULT_ARRAY_BRANCH
        else:
            raise DataError(
                path,
                f"tree {tree_name!r}: say which branches hold the cells (branches= a list or a prefix, or "
                f"array_branch=); branches: {_listing(all_branches)}",
            )
    if array_branch is not None:
        if array_branch not in all_branches:
            raise _missing_branch(path, tree_name, array_branch, all_branches)
        raw = root.read(tree, tree_name, array_branch)
        if raw.dtype != object and raw.ndim == 1:
            raise DataError(
                path,
                f"branch {array_branch!r} of tree {tree_name!r} holds one number per entry, not an array; "
                "use branches=",
            )
        table = _float(_as_columns(path, tree_name, array_branch, raw))
        return table, [array_branch] * table.shape[1]
    names = _prefixed(path, tree_name, branches, all_branches) if isinstance(branches, str) else list(branches)
    if not names:
        raise DataError(path, "branches= is empty")
    for name in names:
        if name not in all_branches:
            raise _missing_branch(path, tree_name, name, all_branches)
    columns = []
    for name in names:
        column = _as_columns(path, tree_name, name, root.read(tree, tree_name, name))
        if column.shape[1] != 1:
            raise DataError(
                path,
                f"branch {name!r} of tree {tree_name!r} holds {column.shape[1]} values per entry, not one; "
                "use array_branch=",
            )
        columns.append(column[:, 0])
    dtype = np.result_type(*columns)
    table = np.stack(columns, axis=1).astype(dtype if dtype.kind == "f" else np.float64, copy=False)
    return table, names


def _check_table(path: Path, tree_name: str, table: np.ndarray, column_names: list[str]) -> None:
    bad = ~np.isfinite(table)
    if bad.any():
        row, col = np.unravel_index(int(np.argmax(bad)), table.shape)
        raise DataError(
            path,
            f"tree {tree_name!r} has {int(bad.sum())} non-finite value(s) (first: {table[row, col]} in branch "
            f"{column_names[col]!r}, entry {row})",
        )


def read_root_table(
    path: str | os.PathLike,
    tree: str | None = None,
    *,
    branches: str | Sequence[str] | None = None,
    array_branch: str | None = None,
) -> np.ndarray:
    """An (N, n) float table from per-cell scalar branches or from one fixed-length array branch.

    ``branches`` is a list of branch names or a prefix: ``"cell_"`` means every branch named
    ``cell_<integer>``, ordered by the integer.
    """
    with _Root(path) as root:
        tree_name, t, all_branches = root.tree(tree)
        table, column_names = _table(root, tree_name, t, all_branches, branches, array_branch)
    _check_table(root.path, tree_name, table, column_names)
    return table


def read_root_showers(
    path: str | os.PathLike,
    tree: str | None = None,
    *,
    branches: str | Sequence[str] | None = None,
    array_branch: str | None = None,
    energy_branch: str = "incident_energy",
    condition_branches: Sequence[str] = (),
    geometry: str | None = None,
    energy_unit: str = "MeV",
) -> ShowerData:
    """Showers from a ROOT tree; ``energy_unit="GeV"`` scales both energies and cells to MeV."""
    if energy_unit not in ENERGY_UNITS:
        raise DataError(path, f"unknown energy_unit {energy_unit!r}; valid: {', '.join(ENERGY_UNITS)}")
    scale = ENERGY_UNITS[energy_unit]
    with _Root(path) as root:
        tree_name, t, all_branches = root.tree(tree)
        meta = root.meta()
        if meta.get("tree") != tree_name:
            meta = {}
        showers, column_names = _table(root, tree_name, t, all_branches, branches, array_branch)
        _check_table(root.path, tree_name, showers, column_names)
        if energy_branch not in all_branches:
            raise _missing_branch(root.path, tree_name, energy_branch, all_branches)
        energies = _float(_as_columns(root.path, tree_name, energy_branch, root.read(t, tree_name, energy_branch)))
        if energies.shape[1] != 1:
            raise DataError(
                root.path, f"energy branch {energy_branch!r} holds {energies.shape[1]} values per entry, not one"
            )
        names = list(condition_branches) or [c for c in meta.get("conditions", []) if c in all_branches]
        conditions = {}
        for name in names:
            if name not in all_branches:
                raise _missing_branch(root.path, tree_name, name, all_branches)
            conditions[name] = _as_columns(root.path, tree_name, name, root.read(t, tree_name, name))
    path = root.path
    check_finite_rows(energies, f"branch {energy_branch!r}", path)
    for name, value in conditions.items():
        check_finite_rows(value, f"branch {name!r}", path)
    if len(energies) != len(showers):
        raise DataError(path, f"branch {energy_branch!r} has {len(energies)} entries but the cells have {len(showers)}")
    if scale != 1.0:
        showers, energies = showers * scale, energies * scale
    check_positive_energies(energies, path)
    geometry = resolve_geometry(path, geometry, meta.get("geometry"))
    attrs = meta.get("attrs") if isinstance(meta.get("attrs"), dict) else {}
    return ShowerData(
        showers=showers,
        incident_energies=energies,
        conditions=conditions,
        geometry=geometry,
        attrs=attrs,
        source=str(path),
    )


def write_root_showers(
    path: str | os.PathLike,
    data: ShowerData,
    tree: str = "showers",
    *,
    layout: str = "branches",
    prefix: str = DEFAULT_PREFIX,
    energy_branch: str = "incident_energy",
) -> None:
    """Write ``data`` as one TTree (cells as ``prefix<i>`` branches or one array branch), atomically."""
    path = Path(path)
    if layout not in ("branches", "array"):
        raise DataError(path, f"unknown layout {layout!r}; valid: branches, array")
    if tree == META_KEY:
        raise DataError(path, f"tree name {META_KEY!r} is reserved")
    columns: dict[str, np.ndarray] = {energy_branch: data.incident_energies[:, 0]}
    if layout == "branches":
        for i in range(data.n_cells):
            columns[f"{prefix}{i}"] = data.showers[:, i]
    else:
        columns[DEFAULT_ARRAY_BRANCH] = data.showers
    for name, value in data.conditions.items():
        cell_like = layout == "branches" and re.fullmatch(re.escape(prefix) + r"\d+", name)
        if name in columns or cell_like:
            raise DataError(path, f"condition {name!r} clashes with a cell or energy branch name")
        columns[name] = value[:, 0] if value.shape[1] == 1 else value
    columns = {name: np.ascontiguousarray(value) for name, value in columns.items()}
    meta = {
        "tree": tree,
        "geometry": data.geometry,
        "attrs": json.loads(attrs_to_json(data.attrs, path)),
        "layout": layout,
        "conditions": list(data.conditions),
    }
    types = {
        name: value.dtype if value.ndim == 1 else np.dtype((value.dtype, value.shape[1:]))
        for name, value in columns.items()
    }
    uproot = _uproot()
    with atomic_output(path) as tmp:
        try:
            with uproot.recreate(tmp) as f:
                writer = f.mktree(tree, types)
                if len(data):
                    writer.extend(columns)
                f[META_KEY] = json.dumps(meta)
        except Exception as error:
            raise DataError(path, f"cannot write ROOT file: {one_line(error)}") from None


__all__ = ["read_root_showers", "read_root_table", "write_root_showers"]
