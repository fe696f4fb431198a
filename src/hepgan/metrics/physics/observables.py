"""High-level shower observables: the quantities physicists validate a fast simulation on.

Every observable is one float64 number per shower, computed from the geometry (layer layout,
cell centres, layer depths), so the same code serves every detector hepgan knows. Showers are
processed in row chunks (bounded memory), never one by one.

Conventions (NaN marks an observable that is undefined for a shower):

- ``e_total`` (MeV), ``response`` = E_tot / E_inc, ``e_layer_<name>`` (MeV), ``f_<name>`` = layer
  fraction of E_tot (``f_back`` is the ATLAS FastCaloGAN study's f3), ``depth`` = energy-weighted mean of the layer
  centre depths in X0, ``sparsity_<name>`` = fraction of the layer's cells with energy above
  ``threshold_mev`` (default 0, i.e. the occupied fraction).
- Grid layers (``units`` eta/phi or x_mm/y_mm): ``centroid_<u>_<name>`` and ``width_<u>_<name>``
  (energy-weighted mean and RMS along each axis, native units) and ``width_<u>_cells_<name>``
  (the width in cell pitches). Centroids are absolute (window cell centres from
  ``Geometry.window_edges``) when the geometry's impact conditions are given, and then
  ``offset_<u>_<name>`` = centroid - impact point is added; without them (e.g. atlas266 data
  lacking ``impact_eta``/``impact_phi``) centroids are relative to the window centre.
- Polar layers (CaloChallenge r x alpha): ``centroid_x_<name>``, ``centroid_y_<name>``,
  ``width_x_<name>``, ``width_y_<name>`` in mm with x = r cos(alpha), y = r sin(alpha) at the
  voxel centres (as in the challenge's evaluation). A layer with a single alpha bin has all its
  voxels on one half-axis, so its "centre" there is a signed mean radius.
- A layer named ``strips`` (grid): ``eratio``, see :func:`eratio`.
- A layer named ``middle`` (grid, odd size >= 3 along both axes, centred on the hit cell):
  ``r_eta`` = E(3 x all) / E(all) and ``r_phi`` = E(3 x 3) / E(3 x all), rows x columns around the
  window centre (atlas266: E3x7/E7x7 and E3x3/E3x7 in eta x phi).

Cells enter with their signed energy; a layer whose energy is not positive gives NaN for its
shape observables (centroid, width, Eratio, R_eta, R_phi).
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import DataError
from hepgan.geometry import Geometry, GridLayer, PolarLayer, get_geometry

MAX_CHUNK_VALUES = 2**24  # cell values converted to float64 at once
STRIPS_LAYER = "strips"
MIDDLE_LAYER = "middle"


def compute_observables(
    showers: np.ndarray,
    incident_energies_mev: np.ndarray,
    geometry: str | Geometry,
    conditions: dict[str, np.ndarray] | None = None,
    *,
    threshold_mev: float = 0.0,
) -> dict[str, np.ndarray]:
    """Observables of every shower as ``{name: (N,) float64 array}`` (names in a fixed order)."""
    geometry = get_geometry(geometry)
    showers = geometry.check_showers(showers)
    n = showers.shape[0]
    e_inc = np.asarray(incident_energies_mev, dtype=np.float64).reshape(-1)
    if e_inc.shape[0] != n:
        raise DataError("<memory>", f"{e_inc.shape[0]} incident energies for {n} showers")
    impact = _impact_conditions(geometry, conditions, n)
    rows = max(1, MAX_CHUNK_VALUES // geometry.n_cells)
    parts = [
        _chunk_observables(
            geometry,
            showers[start : start + rows],
            e_inc[start : start + rows],
            None if impact is None else {k: v[start : start + rows] for k, v in impact.items()},
            threshold_mev,
        )
        for start in range(0, max(n, 1), rows)
    ]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def eratio(profile: np.ndarray) -> np.ndarray:
    """(E_max1 - E_max2) / (E_max1 + E_max2) over each row of a (N, n) strip profile.

    E_max1 and E_max2 are the two highest *local maxima*: strips strictly above both neighbours
    (an edge strip compares to its single neighbour). With fewer than two local maxima (one
    peak, or a flat top that has no strict maximum) Eratio is 1 by convention; a profile whose
    sum is not positive gives NaN.
    """
    p = np.asarray(profile, dtype=np.float64)
    n = p.shape[1]
    peak = np.ones(p.shape, dtype=bool)
    if n > 1:
        peak[:, :-1] &= p[:, :-1] > p[:, 1:]
        peak[:, 1:] &= p[:, 1:] > p[:, :-1]
    values = np.where(peak, p, -np.inf)
    if n >= 2:
        top2 = np.partition(values, n - 2, axis=1)[:, n - 2 :]
        e1, e2 = top2[:, 1], top2[:, 0]
    else:
        e1, e2 = values[:, 0], np.full(p.shape[0], -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(np.isfinite(e2), (e1 - e2) / (e1 + e2), 1.0)
    return np.where(p.sum(axis=1) > 0, out, np.nan)


def middle_ratios(layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R_eta, R_phi) = (E(3 x all) / E(all), E(3 x 3) / E(3 x all)) around the centre cell."""
    layer = np.asarray(layer, dtype=np.float64)
    ca, cb = layer.shape[1] // 2, layer.shape[2] // 2
    band = layer[:, ca - 1 : ca + 2, :]
    e_all = layer.sum(axis=(1, 2))
    e_band = band.sum(axis=(1, 2))
    e_core = band[:, :, cb - 1 : cb + 2].sum(axis=(1, 2))
    return _ratio(e_band, e_all), _ratio(e_core, e_band)


def weighted_moments(weights: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Energy-weighted mean and RMS width of ``positions`` (n,) under ``weights`` (N, n).

    NaN where the total weight is not positive; the variance is clipped at 0 (it can go
    slightly negative through rounding, or through negative cells).
    """
    total = weights.sum(axis=1)
    mean = _ratio(_row_dot(weights, positions), total)
    second = _ratio(_row_dot(weights, positions * positions), total)
    width = np.sqrt(np.clip(second - mean * mean, 0.0, None))
    return mean, width


def _row_dot(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """a @ v row by row, rounded the same whatever the number of rows (BLAS's matrix-vector
    product is not), so showers read in chunks get exactly the observables of the whole set."""
    return np.einsum("ij,j->i", a, v)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    ok = den > 0
    np.divide(num, den, out=out, where=ok)
    return out


def _impact_conditions(geometry: Geometry, conditions, n: int) -> dict[str, np.ndarray] | None:
    """The impact coordinates the grid windows follow, or None when absent or not lateral."""
    if geometry.impact is None or not geometry.impact.lateral or not conditions:
        return None
    if any(name not in conditions for name in geometry.impact.names):
        return None
    out = {}
    for name in geometry.impact.names:
        value = np.asarray(conditions[name], dtype=np.float64)
        if value.size != n:
            raise DataError("<conditions>", f"condition {name!r} has {value.size} values for {n} showers")
        out[name] = value.reshape(n)
    return out


def _chunk_observables(geometry: Geometry, showers, e_inc, impact, threshold_mev) -> dict[str, np.ndarray]:
    x = np.asarray(showers, dtype=np.float64)
    n = x.shape[0]
    parts = geometry.split(x)
    e_layer = np.stack([p.reshape(n, layer.n_cells).sum(axis=1) for p, layer in zip(parts, geometry.layers)], axis=1)
    e_total = e_layer.sum(axis=1)
    out: dict[str, np.ndarray] = {"e_total": e_total, "response": _ratio(e_total, e_inc)}
    names = [layer.name for layer in geometry.layers]
    for i, name in enumerate(names):
        out[f"e_layer_{name}"] = e_layer[:, i]
    for i, name in enumerate(names):
        out[f"f_{name}"] = _ratio(e_layer[:, i], e_total)
    centres = np.array([0.5 * (layer.depth_x0[0] + layer.depth_x0[1]) for layer in geometry.layers])
    out["depth"] = _ratio(_row_dot(e_layer, centres), e_total)
    for layer, part in zip(geometry.layers, parts):
        out[f"sparsity_{layer.name}"] = (part.reshape(n, layer.n_cells) > threshold_mev).mean(axis=1)
    for layer, part in zip(geometry.layers, parts):
        if isinstance(layer, GridLayer):
            out.update(_grid_layer(geometry, layer, part, impact))
        elif isinstance(layer, PolarLayer):
            out.update(_polar_layer(layer, part))
    by_name = dict(zip(names, zip(geometry.layers, parts)))
    if STRIPS_LAYER in by_name and isinstance(by_name[STRIPS_LAYER][0], GridLayer):
        out["eratio"] = eratio(by_name[STRIPS_LAYER][1].sum(axis=2))
    if MIDDLE_LAYER in by_name:
        layer, part = by_name[MIDDLE_LAYER]
        if isinstance(layer, GridLayer) and all(s >= 3 and s % 2 for s in layer.shape):
            out["r_eta"], out["r_phi"] = middle_ratios(part)
    return out


def _grid_layer(geometry: Geometry, layer: GridLayer, part: np.ndarray, impact) -> dict[str, np.ndarray]:
    """Centroid, offset from the impact point and width along both grid axes."""
    n = part.shape[0]
    out = {}
    if impact is not None:
        window = geometry.window_edges(layer, impact, n)
        coords = [impact[name] for name in geometry.impact.names]
    for axis, unit in enumerate(layer.units):
        unit = unit.removesuffix("_mm")
        size, pitch = layer.shape[axis], layer.pitch[axis]
        relative = (np.arange(size) + 0.5 - size / 2) * pitch  # cell centres about the window centre
        profile = part.sum(axis=2 - axis)
        mean, width = weighted_moments(profile, relative)
        if impact is not None:
            edges = window[axis]
            mean = mean + 0.5 * (edges[:, 0] + edges[:, -1])
        out[f"centroid_{unit}_{layer.name}"] = mean
        if impact is not None:
            out[f"offset_{unit}_{layer.name}"] = mean - coords[axis]
        out[f"width_{unit}_{layer.name}"] = width
        out[f"width_{unit}_cells_{layer.name}"] = width / pitch
    return out


def _polar_layer(layer: PolarLayer, part: np.ndarray) -> dict[str, np.ndarray]:
    """Energy-weighted centre and width in x = r cos(alpha), y = r sin(alpha) (mm)."""
    alpha, r = layer.cell_centres().T
    flat = part.reshape(part.shape[0], layer.n_cells)
    out = {}
    for unit, pos in (("x", r * np.cos(alpha)), ("y", r * np.sin(alpha))):
        mean, width = weighted_moments(flat, pos)
        out[f"centroid_{unit}_{layer.name}"] = mean
        out[f"width_{unit}_{layer.name}"] = width
    return out


__all__ = ["compute_observables", "eratio", "middle_ratios", "weighted_moments"]
