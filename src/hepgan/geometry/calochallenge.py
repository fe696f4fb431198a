"""The r x alpha voxel binnings of the Fast Calorimeter Simulation Challenge 2022.

Binnings are read from the challenge's own XML files (copies ship with hepgan). Voxels are ordered
layer by layer, and within a layer (alpha bin, radial bin) with the radial index fastest, exactly
as in the challenge's HDF5 files. Layers whose ``r_edges`` hold a single edge have no voxels.

Depths: dataset 1 sits in the ATLAS barrel (see :mod:`hepgan.geometry.atlas`); datasets 2 and 3
are the challenge's silicon-tungsten calorimeter, 45 readout layers of two 1.4 mm W + 0.3 mm Si
periods each.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

from hepgan.errors import GeometryError
from hepgan.geometry.atlas import (
    ACCORDION,
    IMPACT_ETA,
    LAYER_NAMES,
    REFERENCE_ETA,
    barrel_depths_x0,
    barrel_hadronic_layout,
)
from hepgan.geometry.base import Geometry, ImpactRange
from hepgan.geometry.layers import PolarLayer
from hepgan.geometry.material import Material

SIW = Material.sampling("W", 1.4, "Si", 0.3)
SIW_PERIODS_PER_LAYER = 2

BINNING_FILES = {
    "calochallenge-1-photons": "binning_dataset_1_photons.xml",
    "calochallenge-1-pions": "binning_dataset_1_pions.xml",
    "calochallenge-2": "binning_dataset_2.xml",
    "calochallenge-3": "binning_dataset_3.xml",
}


def read_binning(source: str | Path) -> list[tuple[int, tuple[float, ...], int]]:
    """Parse a challenge binning XML into (layer id, r_edges in mm, n_alpha) for layers with voxels."""
    try:
        root = ET.parse(source).getroot() if isinstance(source, Path) else ET.fromstring(source)
    except ET.ParseError as exc:
        raise GeometryError(f"{source}: not a valid binning XML ({exc})") from None
    layers = []
    for node in root.iter("Layer"):
        try:
            layer_id = int(node.attrib["id"])
            edges = tuple(float(x) for x in node.attrib["r_edges"].split(","))
            n_alpha = int(node.attrib.get("n_bin_alpha", "1"))
        except (KeyError, ValueError) as exc:
            raise GeometryError(f"binning layer {node.attrib}: bad or missing attribute ({exc})") from None
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise GeometryError(f"binning layer {layer_id}: r_edges must increase, got {edges}")
        if len(edges) > 1:
            layers.append((layer_id, edges, n_alpha))
    if not layers:
        raise GeometryError(f"{source}: binning defines no voxels")
    return layers


def calochallenge(name: str) -> Geometry:
    text = resources.files("hepgan.geometry").joinpath(f"binnings/{BINNING_FILES[name]}").read_text()
    binning = read_binning(text)
    if name.startswith("calochallenge-1"):
        depths = barrel_depths_x0()
        layers = [
            PolarLayer(id=i, name=LAYER_NAMES.get(i, f"layer{i}"), depth_x0=depths[i], shape=(na, len(r) - 1), r_edges_mm=r)
            for i, r, na in binning
        ]
        particle = "photons" if name.endswith("photons") else "pions"
        return Geometry(
            name,
            layers,
            ACCORDION,
            description=f"CaloChallenge 2022 dataset 1 ({particle}): ATLAS barrel at |eta| 0.20-0.25 in r x alpha voxels",
            impact=ImpactRange(("impact_eta",), (IMPACT_ETA[0],), (IMPACT_ETA[1],), lateral=False),
            reference_eta=REFERENCE_ETA,
            hadronic=barrel_hadronic_layout([i for i, _, _ in binning]),
        )
    per_layer = SIW_PERIODS_PER_LAYER * (1.4 + 0.3) / SIW.x0_mm
    layers = [
        PolarLayer(id=i, name=f"layer{i}", depth_x0=(i * per_layer, (i + 1) * per_layer), shape=(na, len(r) - 1), r_edges_mm=r)
        for i, r, na in binning
    ]
    return Geometry(
        name,
        layers,
        SIW,
        description=f"CaloChallenge 2022 dataset {name[-1]}: 45-layer silicon-tungsten calorimeter in r x alpha voxels",
    )


def binning_geometry(path: str | Path) -> Geometry:
    """A geometry from a user's CaloChallenge binning XML, named by its path.

    The XML gives the voxels but not the material or the depth of each layer, so layers are
    placed one after another in the datasets-2/3 silicon-tungsten, one readout layer's depth
    each: enough to train on and evaluate one's own showers; the reference simulator's showers
    on it are only as realistic as that placement.
    """
    path = Path(path)
    if not path.is_file():
        raise GeometryError(f"binning file {str(path)!r} does not exist")
    binning = read_binning(path)
    per_layer = SIW_PERIODS_PER_LAYER * (1.4 + 0.3) / SIW.x0_mm
    layers = [
        PolarLayer(id=i, name=f"layer{i}", depth_x0=(k * per_layer, (k + 1) * per_layer), shape=(na, len(r) - 1),
                   r_edges_mm=r)
        for k, (i, r, na) in enumerate(binning)
    ]
    return Geometry(str(path), layers, SIW, description=f"r x alpha voxels of the binning {path.name} "
                                                        "(nominal depths in silicon-tungsten)")
