"""The 3-layer CaloGAN calorimeter (Paganini et al. 2017): a 480 mm lead/liquid-argon cube.

Layers are 90, 347 and 43 mm deep, of alternating 2 mm lead and 4 mm liquid argon, with
3x96 cells of 160 x 5 mm, 12x12 cells of 40 x 40 mm and 12x6 cells of 40 x 80 mm; particles
enter at normal incidence at the centre. The cell layout matches ``layer_0..2`` of CaloGAN files.
"""

from __future__ import annotations

from hepgan.geometry.base import Geometry
from hepgan.geometry.layers import GridLayer
from hepgan.geometry.material import Material

CALOGAN_MEDIUM = Material.sampling("Pb", 2.0, "LAr", 4.0)
SIDE_MM = 480.0
LAYERS = [  # (thickness mm, shape)
    (90.0, (3, 96)),
    (347.0, (12, 12)),
    (43.0, (12, 6)),
]


def calogan() -> Geometry:
    layers, front = [], 0.0
    for i, (thick_mm, shape) in enumerate(LAYERS):
        back = front + thick_mm / CALOGAN_MEDIUM.x0_mm
        layers.append(
            GridLayer(
                id=i,
                name=f"layer_{i}",
                depth_x0=(front, back),
                shape=shape,
                pitch=(SIDE_MM / shape[0], SIDE_MM / shape[1]),
                units=("x_mm", "y_mm"),
            )
        )
        front = back
    return Geometry(
        "calogan",
        layers,
        CALOGAN_MEDIUM,
        description="CaloGAN 3-layer lead/LAr calorimeter: 3x96, 12x12, 12x6 cells = 504 cells",
    )
