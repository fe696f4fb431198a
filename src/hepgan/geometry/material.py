"""Calorimeter media and the effective quantities a GFLASH-style parameterisation needs.

A sampling calorimeter is described by its absorber and active layers; the effective radiation
length, Moliere radius, critical energy and Z follow the Grindhammer-Peters mixing rules
(thickness-weighted inverse lengths, mass-weighted Z), the sampling frequency
F_S = X0_eff / (d_absorber + d_active) and the e/mip ratio e_hat = 1 / (1 + 0.007 (Z_abs - Z_act)).
Hadron showers also need the nuclear interaction length and the minimum-ionisation loss, mixed the
same way (thickness-weighted inverse lengths, thickness-weighted dE/dx).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hepgan.errors import GeometryError


@dataclass(frozen=True)
class Element:
    """A pure medium with its PDG electromagnetic properties (lengths in mm, energies in MeV)."""

    symbol: str
    z: float
    density_g_cm3: float
    x0_mm: float
    critical_energy_mev: float
    moliere_mm: float
    lambda_mm: float | None = None  # nuclear interaction length
    mip_mev_per_mm: float | None = None  # minimum ionisation loss dE/dx


# PDG "Atomic and nuclear properties of materials" (radiation length, critical energy for e-,
# Moliere radius; nuclear interaction length lambda_I and minimum ionisation <dE/dx>_min, both
# given there in g/cm2 and MeV cm2/g and turned into mm and MeV/mm with the density). Scint is
# the PDG polyvinyltoluene plastic scintillator; Al stands for the solenoid and cryostat walls.
ELEMENTS: dict[str, Element] = {
    "Pb": Element("Pb", 82, 11.35, 5.612, 7.43, 16.02, 1996.0 / 11.35, 1.122 * 1.135),
    "W": Element("W", 74, 19.30, 3.504, 7.97, 9.327, 1919.0 / 19.30, 1.145 * 1.930),
    "Fe": Element("Fe", 26, 7.874, 17.57, 21.68, 16.93, 1321.0 / 7.874, 1.451 * 0.7874),
    "LAr": Element("LAr", 18, 1.396, 140.0, 32.84, 90.43, 1197.0 / 1.396, 1.519 * 0.1396),
    "Si": Element("Si", 14, 2.329, 93.70, 40.19, 48.82, 1084.0 / 2.329, 1.664 * 0.2329),
    "Scint": Element("Scint", 3.5, 1.032, 425.3, 93.11, 96.12, 817.0 / 1.032, 1.956 * 0.1032),
    "Al": Element("Al", 13, 2.699, 88.97, 42.70, 44.40, 1072.0 / 2.699, 1.615 * 0.2699),
}


@dataclass(frozen=True)
class Material:
    """Effective medium of a calorimeter, as the shower parameterisation sees it."""

    name: str
    x0_mm: float
    moliere_mm: float
    critical_energy_mev: float
    z_eff: float
    sampling_frequency: float | None  # F_S; None for a homogeneous medium
    e_over_mip: float  # e_hat; 1 for a homogeneous medium
    lambda_mm: float | None = None  # nuclear interaction length (None: no hadronic data)
    mip_mev_per_mm: float | None = None  # energy a minimum-ionising particle deposits per mm

    @property
    def is_sampling(self) -> bool:
        return self.sampling_frequency is not None

    @classmethod
    def homogeneous(cls, element: str) -> "Material":
        e = _element(element)
        return cls(element, e.x0_mm, e.moliere_mm, e.critical_energy_mev, e.z, None, 1.0, e.lambda_mm, e.mip_mev_per_mm)

    @classmethod
    def sampling(cls, absorber: str, absorber_mm: float, active: str, active_mm: float) -> "Material":
        """Mix an absorber and an active layer of the given thicknesses into one effective medium."""
        if absorber_mm <= 0 or active_mm <= 0:
            raise GeometryError(f"sampling layer thicknesses must be positive, got {absorber_mm} and {active_mm} mm")
        a, p = _element(absorber), _element(active)
        period = absorber_mm + active_mm
        fa, fp = absorber_mm / period, active_mm / period
        x0 = 1.0 / (fa / a.x0_mm + fp / p.x0_mm)
        moliere = 1.0 / (fa / a.moliere_mm + fp / p.moliere_mm)
        critical = x0 * (fa * a.critical_energy_mev / a.x0_mm + fp * p.critical_energy_mev / p.x0_mm)
        ma, mp = absorber_mm * a.density_g_cm3, active_mm * p.density_g_cm3
        z_eff = (ma * a.z + mp * p.z) / (ma + mp)
        e_hat = 1.0 / (1.0 + 0.007 * (a.z - p.z))
        lam = mip = None
        if a.lambda_mm and p.lambda_mm:
            lam = 1.0 / (fa / a.lambda_mm + fp / p.lambda_mm)
        if a.mip_mev_per_mm and p.mip_mev_per_mm:
            mip = fa * a.mip_mev_per_mm + fp * p.mip_mev_per_mm
        name = f"{absorber}({absorber_mm:g}mm)/{active}({active_mm:g}mm)"
        return cls(name, x0, moliere, critical, z_eff, x0 / period, e_hat, lam, mip)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "x0_mm": round(self.x0_mm, 4),
            "moliere_mm": round(self.moliere_mm, 4),
            "critical_energy_mev": round(self.critical_energy_mev, 4),
            "z_eff": round(self.z_eff, 4),
            "sampling_frequency": None if self.sampling_frequency is None else round(self.sampling_frequency, 4),
            "e_over_mip": round(self.e_over_mip, 4),
        }


def _element(symbol: str) -> Element:
    try:
        return ELEMENTS[symbol]
    except KeyError:
        raise GeometryError(f"unknown medium {symbol!r}; known: {', '.join(ELEMENTS)}") from None


def depth_in_x0(thickness_mm: float, x0_mm: float, incidence_eta: float = 0.0) -> float:
    """Radiation lengths crossed along a projective path through a radial slab at pseudorapidity eta."""
    return thickness_mm * math.cosh(incidence_eta) / x0_mm
