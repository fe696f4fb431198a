"""What a hadron shower needs from a geometry beyond the electromagnetic description.

Hadron showers develop on the scale of the nuclear interaction length lambda_I, not of X0, and a
barrel calorimeter mixes media whose ratio lambda_I / X0 differs several-fold (lead/liquid argon
about 22, iron/scintillator about 9). A :class:`HadronicLayout` therefore maps depth along the
reference track between X0 and lambda_I segment by segment (dead material included), gives the
energy a minimum-ionising particle has deposited up to each point, and says which calorimeter
(compartment) each readout layer belongs to, with the medium of that compartment. Geometries
without one are electromagnetic only: the simulator refuses hadrons on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepgan.errors import GeometryError
from hepgan.geometry.material import Material

COMPARTMENT_KINDS = ("em", "hadronic")


@dataclass(frozen=True)
class Segment:
    """A slab crossed by the reference track: its X0 extent (as the layers give it), its path
    length in mm and its medium. ``compartment`` indexes the layout's compartments, None for dead
    material (cryostats, coil), whose deposits are lost."""

    x0: tuple[float, float]
    path_mm: float
    material: Material
    compartment: int | None = None


@dataclass(frozen=True)
class Compartment:
    """One calorimeter: ``kind`` picks its response parameters (e/h, stochastic term)."""

    name: str
    kind: str
    material: Material


class HadronicLayout:
    """Depth in lambda_I and minimum-ionisation losses along the reference track, and the
    compartment of every readout layer. Segments must be contiguous in X0 from depth 0."""

    def __init__(self, segments: list[Segment], compartments: list[Compartment], layer_compartment: list[int]):
        for c in compartments:
            if c.kind not in COMPARTMENT_KINDS:
                raise GeometryError(f"compartment {c.name!r}: kind must be one of {COMPARTMENT_KINDS}, got {c.kind!r}")
            if c.material.lambda_mm is None or c.material.mip_mev_per_mm is None:
                raise GeometryError(f"compartment {c.name!r}: medium {c.material.name} has no interaction length")
        x0 = [0.0]
        lam = [0.0]
        mip = [0.0]
        for s in segments:
            if abs(s.x0[0] - x0[-1]) > 1e-6 or s.x0[1] <= s.x0[0]:
                raise GeometryError(f"hadronic segments must follow each other in depth; got {s.x0} after {x0[-1]:.4f} X0")
            if s.material.lambda_mm is None or s.material.mip_mev_per_mm is None:
                raise GeometryError(f"medium {s.material.name} has no interaction length")
            x0.append(s.x0[1])
            lam.append(lam[-1] + s.path_mm / s.material.lambda_mm)
            mip.append(mip[-1] + s.path_mm * s.material.mip_mev_per_mm)
        self.segments = tuple(segments)
        self.compartments = tuple(compartments)
        self.layer_compartment = tuple(layer_compartment)
        self.knots_x0, self.knots_lambda, self.knots_mip_mev = np.array(x0), np.array(lam), np.array(mip)

    def to_lambda(self, depth_x0):
        """Depth in lambda_I of points given in X0 (at the reference incidence)."""
        return np.interp(depth_x0, self.knots_x0, self.knots_lambda)

    def to_x0(self, depth_lambda):
        """Inverse of :meth:`to_lambda`; beyond the last segment X0 keeps the last medium's ratio."""
        depth_lambda = np.asarray(depth_lambda, float)
        out = np.interp(depth_lambda, self.knots_lambda, self.knots_x0)
        slope = (self.knots_x0[-1] - self.knots_x0[-2]) / (self.knots_lambda[-1] - self.knots_lambda[-2])
        beyond = depth_lambda > self.knots_lambda[-1]
        return np.where(beyond, self.knots_x0[-1] + (depth_lambda - self.knots_lambda[-1]) * slope, out)

    def mip_deposit_mev(self, depth_lambda):
        """Energy (MeV) a minimum-ionising particle deposits from depth 0 to ``depth_lambda``."""
        return np.interp(depth_lambda, self.knots_lambda, self.knots_mip_mev)

    @property
    def total_lambda(self) -> float:
        return float(self.knots_lambda[-1])

    def front_lambda(self, kind: str) -> float:
        """Depth (lambda_I) where the first segment of a compartment of this kind starts."""
        for s, lo in zip(self.segments, self.knots_lambda[:-1]):
            if s.compartment is not None and self.compartments[s.compartment].kind == kind:
                return float(lo)
        raise GeometryError(f"no {kind} compartment in this geometry")
