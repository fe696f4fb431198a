"""Detector geometries by name: ``get_geometry("atlas266")``.

A geometry maps a shower's deposits to a flat vector of cells and back; see :class:`Geometry`.
New geometries are added with :func:`register_geometry`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from hepgan.errors import GeometryError, unknown_name_error
from hepgan.geometry.atlas import atlas266
from hepgan.geometry.base import Geometry, ImpactRange
from hepgan.geometry.calochallenge import BINNING_FILES, binning_geometry, calochallenge, read_binning
from hepgan.geometry.calogan import calogan
from hepgan.geometry.layers import GridLayer, Layer, PolarLayer
from hepgan.geometry.material import Material

_BUILDERS: dict[str, Callable[[], Geometry]] = {"atlas266": atlas266, "calogan": calogan}
_BUILDERS.update({name: partial(calochallenge, name) for name in BINNING_FILES})
_CACHE: dict[str, Geometry] = {}


def register_geometry(name: str, builder: Callable[[], Geometry]) -> None:
    """Make ``builder()`` available as ``get_geometry(name)``."""
    if name in _BUILDERS:
        raise GeometryError(f"geometry {name!r} is already registered")
    _BUILDERS[name] = builder


def list_geometries() -> list[str]:
    return sorted(_BUILDERS)


def get_geometry(name: str | Geometry) -> Geometry:
    """The geometry registered under ``name``, or read from a CaloChallenge binning XML when
    ``name`` is the path of one (a Geometry is passed through)."""
    if isinstance(name, Geometry):
        return name
    if str(name).endswith(".xml") and name not in _BUILDERS:  # a user's binning file
        if name not in _CACHE:
            _CACHE[name] = binning_geometry(name)
        return _CACHE[name]
    if name not in _BUILDERS:
        raise GeometryError(unknown_name_error("geometry", str(name), list(_BUILDERS)))
    if name not in _CACHE:
        _CACHE[name] = _BUILDERS[name]()
    return _CACHE[name]


__all__ = [
    "Geometry", "GridLayer", "ImpactRange", "Layer", "Material", "PolarLayer",
    "get_geometry", "list_geometries", "read_binning", "register_geometry",
]
