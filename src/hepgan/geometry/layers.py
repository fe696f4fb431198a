"""Readout layers: where a layer sits in depth, and how its cells tile the transverse plane.

Two kinds cover every geometry hepgan ships: a rectangular grid (eta x phi cells of ATLAS, x x y
cells of CaloGAN) and a polar r x alpha binning centred on the shower axis (CaloChallenge).
Cells of a layer are flattened row-major over ``shape``: (n_eta, n_phi) / (n_x, n_y) for grids,
(n_alpha, n_r) for polar layers, i.e. the radial index runs fastest as in the CaloChallenge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layer:
    """Common part of a readout layer.

    ``depth_x0`` is (front, back) along the shower axis in radiation lengths, counted from where
    the particle enters the first material, at the geometry's reference incidence.
    """

    id: int
    name: str
    depth_x0: tuple[float, float]
    shape: tuple[int, int]

    @property
    def n_cells(self) -> int:
        return int(self.shape[0] * self.shape[1])

    @property
    def thickness_x0(self) -> float:
        return self.depth_x0[1] - self.depth_x0[0]


@dataclass(frozen=True)
class GridLayer(Layer):
    """A rectangular window of ``shape`` cells with pitch ``pitch`` in native units.

    ``units`` names the two axes (e.g. ("eta", "phi") or ("x_mm", "y_mm")); ``mm_per_unit`` turns
    native offsets into transverse millimetres at this layer (the layer radius for eta and phi: a
    displacement d perpendicular to a projective axis changes eta and phi by d / r).
    With ``follows_impact`` the window is chosen on the detector's fixed cell grid (edges at
    multiples of the pitch) around an anchor point: centred on the cell holding the anchor for an
    odd count, on the cell edge nearest to it for an even one. Otherwise the window is fixed and
    centred on 0.
    """

    pitch: tuple[float, float] = (1.0, 1.0)
    units: tuple[str, str] = ("x_mm", "y_mm")
    mm_per_unit: tuple[float, float] = (1.0, 1.0)
    follows_impact: bool = False

    def window_edges(self, anchor_a: np.ndarray, anchor_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Absolute cell edges (native units) of the window around each anchor: (N, n_a+1), (N, n_b+1)."""
        return (
            _window(np.asarray(anchor_a, float), self.shape[0], self.pitch[0], self.follows_impact),
            _window(np.asarray(anchor_b, float), self.shape[1], self.pitch[1], self.follows_impact),
        )

    def lateral_edges_mm(self, impact_a, impact_b, anchor_a=None, anchor_b=None) -> tuple[np.ndarray, np.ndarray]:
        """Cell edges in transverse mm relative to the shower axis, per shower.

        The window is placed around the anchor (by default the impact point itself).
        """
        impact_a, impact_b = np.asarray(impact_a, float), np.asarray(impact_b, float)
        ea, eb = self.window_edges(impact_a if anchor_a is None else anchor_a, impact_b if anchor_b is None else anchor_b)
        return (ea - impact_a[:, None]) * self.mm_per_unit[0], (eb - impact_b[:, None]) * self.mm_per_unit[1]

    def cell_centre_of(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre of the detector cell (on the fixed grid) that contains each point."""
        return (
            (np.floor(np.asarray(a, float) / self.pitch[0]) + 0.5) * self.pitch[0],
            (np.floor(np.asarray(b, float) / self.pitch[1]) + 0.5) * self.pitch[1],
        )

    def cell_centres(self) -> np.ndarray:
        """(n_cells, 2) cell centres in native units relative to the window centre."""
        a = (np.arange(self.shape[0]) + 0.5 - self.shape[0] / 2) * self.pitch[0]
        b = (np.arange(self.shape[1]) + 0.5 - self.shape[1] / 2) * self.pitch[1]
        aa, bb = np.meshgrid(a, b, indexing="ij")
        return np.stack([aa.ravel(), bb.ravel()], axis=1)

    def cell_sizes(self) -> np.ndarray:
        return np.tile(np.asarray(self.pitch, float), (self.n_cells, 1))

    def neighbours(self) -> list[np.ndarray]:
        """Local indices of the up to 4 edge-sharing neighbours of each cell."""
        na, nb = self.shape
        out = []
        for i in range(na):
            for j in range(nb):
                nbr = [(i + di) * nb + (j + dj) for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
                       if 0 <= i + di < na and 0 <= j + dj < nb]
                out.append(np.array(nbr, dtype=np.int64))
        return out


@dataclass(frozen=True)
class PolarLayer(Layer):
    """An r x alpha binning centred on the shower axis: ``r_edges`` in mm, ``shape`` = (n_alpha, n_r)."""

    r_edges_mm: tuple[float, ...] = (0.0,)
    units: tuple[str, str] = ("alpha", "r_mm")

    @property
    def n_alpha(self) -> int:
        return self.shape[0]

    def cell_centres(self) -> np.ndarray:
        """(n_cells, 2) centres as (alpha [rad], r [mm]), radial index fastest."""
        r = np.asarray(self.r_edges_mm)
        rc = 0.5 * (r[1:] + r[:-1])
        ac = (np.arange(self.n_alpha) + 0.5) * 2 * np.pi / self.n_alpha
        aa, rr = np.meshgrid(ac, rc, indexing="ij")
        return np.stack([aa.ravel(), rr.ravel()], axis=1)

    def cell_sizes(self) -> np.ndarray:
        r = np.asarray(self.r_edges_mm)
        dr = np.tile(np.diff(r), self.n_alpha)
        return np.stack([np.full(self.n_cells, 2 * np.pi / self.n_alpha), dr], axis=1)

    def neighbours(self) -> list[np.ndarray]:
        """Radial neighbours, and azimuthal ones (cyclic) when there is more than one alpha bin."""
        na, nr = self.shape
        out = []
        for a in range(na):
            for r in range(nr):
                nbr = {a * nr + rr for rr in (r - 1, r + 1) if 0 <= rr < nr}
                if na > 1:
                    nbr |= {((a + d) % na) * nr + r for d in (-1, 1)}
                nbr.discard(a * nr + r)
                out.append(np.array(sorted(nbr), dtype=np.int64))
        return out


def _window(impact: np.ndarray, n: int, pitch: float, follows_impact: bool) -> np.ndarray:
    steps = np.arange(n + 1)
    if not follows_impact:
        return np.broadcast_to((steps - n / 2) * pitch, (impact.shape[0], n + 1))
    if n % 2:
        first = np.floor(impact / pitch) - (n - 1) // 2
    else:
        first = np.round(impact / pitch) - n // 2
    return (first[:, None] + steps[None, :]) * pitch
