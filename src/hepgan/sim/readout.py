"""What the readout does to a shower's visible energy, whatever the particle: one calibration
factor per shower (the constant term), electronic noise per cell, and clipping of negative cells."""

from __future__ import annotations

import numpy as np

from hepgan.geometry import Geometry
from hepgan.sim.config import SimConfig


def read_out(config: SimConfig, geometry: Geometry, visible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``visible`` (N, n_cells) in MeV, changed in place and returned."""
    if config.constant_term > 0:
        visible *= np.maximum(1.0 + config.constant_term * rng.standard_normal(len(visible)), 0.0)[:, None]
    noise = np.asarray(config.noise_mev, float)
    if np.any(noise > 0):
        sigma = noise[geometry.cell_layer] if noise.ndim else np.full(geometry.n_cells, float(noise))
        visible += rng.standard_normal(visible.shape) * sigma
    if config.clip_negative:
        np.maximum(visible, 0.0, out=visible)
    return visible


__all__ = ["read_out"]
