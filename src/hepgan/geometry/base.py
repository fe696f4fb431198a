"""A detector geometry: ordered readout layers flattened into one cell vector.

The flat vector is what generators produce and files store; the geometry maps it back to
per-layer arrays, gives each cell its layer, centre, size and neighbours, and tells the
simulator where layers sit in depth and how impact points are drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hepgan.errors import ConfigError, DataError, GeometryError
from hepgan.geometry.hadronic import HadronicLayout
from hepgan.geometry.layers import GridLayer, Layer, PolarLayer
from hepgan.geometry.material import Material


# Conditions computed from the impact point by the geometry: the window-alignment code and the
# impact offset within the hit anchor cell. Neither needs to be stored with the showers.
DERIVED_CONDITIONS = ("alignment", "impact_offset")


@dataclass(frozen=True)
class ImpactRange:
    """Impact conditions drawn uniformly in [low, high), e.g. impact_eta and impact_phi.

    ``lateral`` says whether the named coordinates are the two axes of the grid layers (so the
    shower lands off the window centre) or only enter through the depth scaling (polar binnings
    that are centred on the shower axis).
    """

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    lateral: bool = True


class Geometry:
    """Layers in readout order, the medium they sit in, and how showers enter them."""

    def __init__(
        self,
        name: str,
        layers: list[Layer],
        material: Material,
        description: str = "",
        impact: ImpactRange | None = None,
        reference_eta: float | None = None,
        anchor_layer: int | None = None,
        hadronic: HadronicLayout | None = None,
    ):
        if not layers:
            raise GeometryError(f"geometry {name!r} has no layers")
        for prev, nxt in zip(layers, layers[1:]):
            if nxt.depth_x0[0] < prev.depth_x0[1] - 1e-9:
                raise GeometryError(f"geometry {name!r}: layer {nxt.name} starts before {prev.name} ends")
        self.name = name
        self.layers = tuple(layers)
        self.material = material
        self.description = description
        self.impact = impact
        self.reference_eta = reference_eta
        self.anchor_layer = anchor_layer
        if hadronic is not None and len(hadronic.layer_compartment) != len(self.layers):
            raise GeometryError(f"geometry {name!r}: the hadronic layout names {len(hadronic.layer_compartment)} layers, "
                                f"the geometry has {len(self.layers)}")
        self.hadronic = hadronic  # None: electromagnetic showers only

    def __repr__(self) -> str:
        return f"Geometry({self.name!r}, {len(self.layers)} layers, {self.n_cells} cells)"

    @cached_property
    def layer_sizes(self) -> tuple[int, ...]:
        return tuple(layer.n_cells for layer in self.layers)

    @cached_property
    def n_cells(self) -> int:
        return int(sum(self.layer_sizes))

    @cached_property
    def layer_slices(self) -> tuple[slice, ...]:
        bounds = np.concatenate([[0], np.cumsum(self.layer_sizes)])
        return tuple(slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]))

    @cached_property
    def cell_layer(self) -> np.ndarray:
        """(n_cells,) index of the layer (in readout order) each cell belongs to."""
        return np.repeat(np.arange(len(self.layers)), self.layer_sizes)

    @cached_property
    def cell_centres(self) -> np.ndarray:
        """(n_cells, 2) cell centres in each layer's native units (see ``Layer.units``)."""
        return np.concatenate([layer.cell_centres() for layer in self.layers])

    @cached_property
    def cell_sizes(self) -> np.ndarray:
        return np.concatenate([layer.cell_sizes() for layer in self.layers])

    @cached_property
    def neighbours(self) -> tuple[np.ndarray, ...]:
        """Global indices of each cell's neighbours within its layer."""
        out = []
        for layer, sl in zip(self.layers, self.layer_slices):
            out.extend(local + sl.start for local in layer.neighbours())
        return tuple(out)

    def check_showers(self, showers: np.ndarray, source: object = "<memory>") -> np.ndarray:
        showers = np.asarray(showers)
        if showers.ndim != 2 or showers.shape[1] != self.n_cells:
            raise DataError(
                source, f"geometry {self.name!r} expects showers of shape (N, {self.n_cells}), got {showers.shape}"
            )
        return showers

    def split(self, showers: np.ndarray) -> list[np.ndarray]:
        """Flat (N, n_cells) showers -> one (N, *layer.shape) array per layer (views, no copy)."""
        showers = self.check_showers(showers)
        return [showers[:, sl].reshape(-1, *layer.shape) for layer, sl in zip(self.layers, self.layer_slices)]

    def join(self, parts: list[np.ndarray]) -> np.ndarray:
        """Inverse of :meth:`split`."""
        if len(parts) != len(self.layers):
            raise DataError("<memory>", f"geometry {self.name!r} has {len(self.layers)} layers, got {len(parts)} arrays")
        flat = []
        for layer, part in zip(self.layers, parts):
            part = np.asarray(part)
            if part.shape[1:] != layer.shape:
                raise DataError("<memory>", f"layer {layer.name} expects (N, {layer.shape[0]}, {layer.shape[1]}), got {part.shape}")
            flat.append(part.reshape(part.shape[0], -1))
        return np.concatenate(flat, axis=1)

    def layer_energies(self, showers: np.ndarray) -> np.ndarray:
        """(N, n_layers) energy summed per layer."""
        showers = self.check_showers(showers)
        sums = np.zeros((showers.shape[0], len(self.layer_slices)), dtype=showers.dtype)
        for i, sl in enumerate(self.layer_slices):  # a layer without cells holds no energy
            sums[:, i] = showers[:, sl].sum(axis=1)
        return sums

    def sample_impact(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Impact positions for ``n`` showers, as named conditions (empty when fixed at the centre)."""
        if self.impact is None:
            return {}
        return {
            name: rng.uniform(lo, hi, size=n)
            for name, lo, hi in zip(self.impact.names, self.impact.low, self.impact.high)
        }

    def impact_coordinates(self, conditions: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """The two grid-axis impact coordinates of each shower (zeros when the geometry has none)."""
        if self.impact is None or not self.impact.lateral:
            return np.zeros(n), np.zeros(n)
        try:
            return tuple(np.asarray(conditions[name], float).reshape(n) for name in self.impact.names)
        except KeyError as missing:
            raise DataError("<conditions>", f"geometry {self.name!r} needs the condition {missing}") from None

    def window_anchor(self, impact_a: np.ndarray, impact_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each layer's window is centred: the centre of the anchor layer's hit cell.

        All windows are placed around the same point, as in the ATLAS FastCaloGAN study's data (windows around the
        hit middle-layer cell); layers whose cells do not nest in the anchor's then sit in one of
        a few alignments, which the ATLAS FastCaloGAN study fed to its networks as a two-hot condition.
        """
        if self.anchor_layer is None:
            return impact_a, impact_b
        return self.layers[self.anchor_layer].cell_centre_of(impact_a, impact_b)

    def lateral_edges_mm(self, layer: GridLayer, conditions: dict[str, np.ndarray], n: int):
        """Cell edges of a grid layer in transverse mm relative to each shower's axis."""
        impact_a, impact_b = self.impact_coordinates(conditions, n)
        anchor_a, anchor_b = self.window_anchor(impact_a, impact_b)
        return layer.lateral_edges_mm(impact_a, impact_b, anchor_a, anchor_b)

    def window_edges(self, layer: GridLayer, conditions: dict[str, np.ndarray], n: int):
        """Absolute cell edges (native units) of a grid layer's window for each shower."""
        anchor_a, anchor_b = self.window_anchor(*self.impact_coordinates(conditions, n))
        return layer.window_edges(anchor_a, anchor_b)

    def alignment(self, conditions: dict[str, np.ndarray], n: int) -> np.ndarray:
        """(N, k) multi-hot code of how the coarser layers' windows sit around the anchor cell.

        For each grid axis, the layer whose pitch is the largest multiple of the anchor's decides
        the alignment class (e.g. atlas266: 2 back-layer positions in eta, 4 presampler/strip
        positions in phi), one-hot encoded; the axes are concatenated (the ATLAS FastCaloGAN study's two-hot vector).
        Empty (N, 0) for geometries without an anchor layer.
        """
        if self.anchor_layer is None:
            return np.zeros((n, 0))
        anchor = self.layers[self.anchor_layer]
        centres = self.window_anchor(*self.impact_coordinates(conditions, n))
        grids = [layer for layer in self.layers if isinstance(layer, GridLayer) and layer.follows_impact]
        parts = []
        for axis, centre in enumerate(centres):
            pitch = anchor.pitch[axis]
            ratio = max(int(round(layer.pitch[axis] / pitch)) for layer in grids)
            if ratio > 1:
                cls = np.floor(np.mod(centre, ratio * pitch) / pitch + 1e-9).astype(int) % ratio
                parts.append(np.eye(ratio)[cls])
        return np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))

    def impact_offset(self, conditions: dict[str, np.ndarray], n: int) -> np.ndarray:
        """(N, 2) impact point relative to the centre of the anchor layer's hit cell, in units of
        that cell's pitch (each in [-0.5, 0.5)); (N, 0) for geometries without an anchor layer.

        Windows are centred on the hit cell, so where the shower sits in the window is set by this
        offset (a saw-tooth function of impact eta and phi), not by eta itself.
        """
        if self.anchor_layer is None:
            return np.zeros((n, 0))
        impact = self.impact_coordinates(conditions, n)
        centres = self.window_anchor(*impact)
        pitch = self.layers[self.anchor_layer].pitch
        return np.stack([(impact[axis] - centres[axis]) / pitch[axis] for axis in range(2)], axis=1)

    def derived_condition(self, name: str, conditions: dict[str, np.ndarray], n: int) -> np.ndarray:
        """A condition computed from the impact point (see ``DERIVED_CONDITIONS``)."""
        if name not in DERIVED_CONDITIONS:
            raise ConfigError(f"{name!r} is not a derived condition; derived: {', '.join(DERIVED_CONDITIONS)}")
        if self.anchor_layer is None:
            raise ConfigError(f"condition {name!r}: geometry {self.name!r} has no anchor layer (no windows to align)")
        return self.alignment(conditions, n) if name == "alignment" else self.impact_offset(conditions, n)

    def path_scale(self, conditions: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Depth scale factor per shower: a projective track at eta crosses cosh(eta)/cosh(eta_ref) more."""
        if self.reference_eta is None or "impact_eta" not in conditions:
            return np.ones(n)
        eta = np.asarray(conditions["impact_eta"], float).reshape(n)
        return np.cosh(eta) / math.cosh(self.reference_eta)

    def describe(self) -> dict:
        """A JSON-serialisable summary (stored with files and printed by ``hepgan geometries``)."""
        return {
            "name": self.name,
            "description": self.description,
            "n_cells": self.n_cells,
            "material": self.material.describe(),
            "layers": [
                {
                    "id": layer.id,
                    "name": layer.name,
                    "kind": "polar" if isinstance(layer, PolarLayer) else "grid",
                    "shape": list(layer.shape),
                    "depth_x0": [round(layer.depth_x0[0], 4), round(layer.depth_x0[1], 4)],
                }
                for layer in self.layers
            ],
        }


__all__ = ["Geometry", "GridLayer", "ImpactRange", "Layer", "PolarLayer"]
