"""The ATLAS EM barrel around |eta| ~ 0.2-0.25, built from the cell table derived from the real
ATLAS geometry file (see scripts/derive_atlas_table.py).

Depths along a projective track are radial thicknesses times cosh(eta) over the radiation length
of the region. The table gives the radial extent of every sampling; what it cannot give is the
material, fixed here from the ATLAS design figures:
- 1.7 X0 of inner detector, solenoid and cryostat in front of the presampler at |eta| ~ 0.2;
- the presampler region is liquid argon (X0 = 140 mm);
- the accordion (strips, middle, back) is 22 X0 deep at eta = 0, which sets its radial X0;
- 1.5 X0 of cryostat between the back layer and the tile calorimeter;
- the tile calorimeter is 14 mm steel / 3 mm scintillator periods.
The shower medium seen by the parameterisation is the barrel accordion: 1.53 mm lead absorbers
with 2 x 2.1 mm liquid-argon gaps.

For hadron showers (:func:`barrel_hadronic_layout`) the same track is measured in nuclear
interaction lengths: the dead material in front (1.7 X0) and the cryostat (1.5 X0) are taken as
aluminium, the presampler as liquid argon, the accordion as its lead/liquid-argon mix and the tile
calorimeter as its iron/scintillator mix (PDG lambda_I of each). At the reference eta this puts the
front of the tile calorimeter at 1.94 lambda_I and its back at 9.9 lambda_I, against the ATLAS
figure of 9.7 lambda_I of active calorimeter at eta = 0 (ATLAS Collaboration, JINST 3 (2008) S08003).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources

from hepgan.geometry.base import Geometry, ImpactRange
from hepgan.geometry.hadronic import Compartment, HadronicLayout, Segment
from hepgan.geometry.layers import GridLayer
from hepgan.geometry.material import ELEMENTS, Material

REFERENCE_ETA = 0.225
IMPACT_ETA = (0.20, 0.25)
UPSTREAM_X0 = 1.7
ACCORDION_X0_AT_ETA0 = 22.0
CRYOSTAT_X0 = 1.5
ACCORDION = Material.sampling("Pb", 1.53, "LAr", 4.2)
TILE = Material.sampling("Fe", 14.0, "Scint", 3.0)
LAYER_NAMES = {0: "presampler", 1: "strips", 2: "middle", 3: "back", 12: "tile0", 13: "tile1", 14: "tile2"}
# The ATLAS FastCaloGAN study's 266-cell window: (eta cells, phi cells) per sampling.
ATLAS266_WINDOW = {0: (7, 3), 1: (56, 3), 2: (7, 7), 3: (4, 7)}


@lru_cache(maxsize=1)
def barrel_table() -> dict[int, dict]:
    """Per-sampling cell pitch and radial extent, keyed by ATLAS sampling number."""
    text = resources.files("hepgan.geometry").joinpath("tables/atlas_barrel.json").read_text()
    return {row["sampling"]: row for row in json.loads(text)["layers"]}


@lru_cache(maxsize=1)
def barrel_depths_x0() -> dict[int, tuple[float, float]]:
    """(front, back) depth in X0 of each sampling along a track at the reference eta."""
    table = barrel_table()
    scale = math.cosh(REFERENCE_ETA)
    accordion_mm = sum(table[s]["dr_mm"] for s in (1, 2, 3))
    accordion_x0_mm = accordion_mm / ACCORDION_X0_AT_ETA0
    region_x0_mm = {0: ELEMENTS["LAr"].x0_mm, 1: accordion_x0_mm, 2: accordion_x0_mm, 3: accordion_x0_mm}
    region_x0_mm.update({s: TILE.x0_mm for s in (12, 13, 14)})
    depths, front = {}, UPSTREAM_X0
    for sampling in (0, 1, 2, 3, 12, 13, 14):
        if sampling == 12:
            front += CRYOSTAT_X0
        thick = table[sampling]["dr_mm"] * scale / region_x0_mm[sampling]
        depths[sampling] = (front, front + thick)
        front += thick
    return depths


DEAD_MATERIAL = Material.homogeneous("Al")
PRESAMPLER = Material.homogeneous("LAr")
_COMPARTMENTS = (
    Compartment("presampler", "em", PRESAMPLER),
    Compartment("lar", "em", ACCORDION),
    Compartment("tile", "hadronic", TILE),
)
_SAMPLING_COMPARTMENT = {0: 0, 1: 1, 2: 1, 3: 1, 12: 2, 13: 2, 14: 2}


def barrel_hadronic_layout(samplings: list[int]) -> HadronicLayout:
    """The barrel in interaction lengths, for geometries whose layers are ``samplings``."""
    table, depths = barrel_table(), barrel_depths_x0()
    scale = math.cosh(REFERENCE_ETA)
    al_x0 = DEAD_MATERIAL.x0_mm
    segments = [Segment((0.0, UPSTREAM_X0), UPSTREAM_X0 * al_x0, DEAD_MATERIAL)]
    for sampling in (0, 1, 2, 3, 12, 13, 14):
        if sampling == 12:
            segments.append(Segment((depths[3][1], depths[12][0]), CRYOSTAT_X0 * al_x0, DEAD_MATERIAL))
        comp = _SAMPLING_COMPARTMENT[sampling]
        segments.append(Segment(depths[sampling], table[sampling]["dr_mm"] * scale, _COMPARTMENTS[comp].material, comp))
    return HadronicLayout(segments, list(_COMPARTMENTS), [_SAMPLING_COMPARTMENT[s] for s in samplings])


def atlas266() -> Geometry:
    table, depths = barrel_table(), barrel_depths_x0()
    layers = []
    for sampling, (n_eta, n_phi) in ATLAS266_WINDOW.items():
        row = table[sampling]
        layers.append(
            GridLayer(
                id=sampling,
                name=LAYER_NAMES[sampling],
                depth_x0=depths[sampling],
                shape=(n_eta, n_phi),
                pitch=(row["deta"], row["dphi"]),
                units=("eta", "phi"),
                mm_per_unit=(row["r_mm"], row["r_mm"]),
                follows_impact=True,
            )
        )
    return Geometry(
        "atlas266",
        layers,
        ACCORDION,
        description="ATLAS EM barrel window at |eta| 0.20-0.25: presampler 7x3, strips 56x3, "
        "middle 7x7, back 4x7 (eta x phi) = 266 cells",
        impact=ImpactRange(("impact_eta", "impact_phi"), (IMPACT_ETA[0], 0.0), (IMPACT_ETA[1], table[0]["dphi"])),
        reference_eta=REFERENCE_ETA,
        anchor_layer=2,
        hadronic=barrel_hadronic_layout(list(ATLAS266_WINDOW)),
    )

