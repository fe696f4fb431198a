"""Derive the ATLAS barrel cell table that hepgan ships, from the real ATLAS geometry file.

Reads the FastCaloSim cell geometry (ROOT TTree ``caloDetCells``) and, for the barrel samplings
hepgan's ATLAS-like geometries use (0 PreSamplerB, 1 EMB1 strips, 2 EMB2 middle, 3 EMB3 back,
12-14 TileBar0-2), takes the cells whose centres lie at 0.15 < eta < 0.30 and records their pitch in
eta and phi and their radial position and depth. The result is written to
``src/hepgan/geometry/tables/atlas_barrel.json`` so run time never needs the ROOT file.

Usage: python scripts/derive_atlas_table.py [ROOT_FILE] [OUT_JSON]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import uproot

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IN = ROOT.parent / "shared/data/atlas/CaloCells_ATLAS-R3S-2021-03-02-00.root"
DEFAULT_OUT = ROOT / "src/hepgan/geometry/tables/atlas_barrel.json"
SAMPLINGS = {0: "PreSamplerB", 1: "EMB1", 2: "EMB2", 3: "EMB3", 12: "TileBar0", 13: "TileBar1", 14: "TileBar2"}


def derive(path: Path) -> dict:
    cells = uproot.open(path)["caloDetCells"].arrays(
        ["layer", "isBarrel", "eta", "phi", "r", "dr", "deta", "dphi"], library="np"
    )
    layers = []
    for sampling, name in SAMPLINGS.items():
        sel = (cells["layer"] == sampling) & cells["isBarrel"] & (cells["eta"] > 0.15) & (cells["eta"] < 0.30)
        if not sel.any():
            raise SystemExit(f"no barrel cells of sampling {sampling} near eta 0.2 in {path}")
        r, dr = cells["r"][sel].astype(float), cells["dr"][sel].astype(float)
        layers.append(
            {
                "sampling": sampling,
                "name": name,
                "n_cells_in_range": int(sel.sum()),
                "deta": float(np.median(cells["deta"][sel])),
                "dphi": float(np.median(cells["dphi"][sel])),
                "r_mm": round(float(np.median(r)), 2),
                "dr_mm": round(float(np.median(dr)), 2),
                "r_front_mm": round(float(np.median(r - dr / 2)), 2),
                "r_back_mm": round(float(np.median(r + dr / 2)), 2),
            }
        )
    return {
        "source": path.name,
        "selection": "barrel cells with 0.15 < eta < 0.30 (medians over the selection)",
        "layers": layers,
    }


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_IN
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    table = derive(src)
    out.write_text(json.dumps(table, indent=2) + "\n")
    for layer in table["layers"]:
        print(layer)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
