"""How a shower's energy reaches the cells: cut into equal spots, thrown onto the cells with the
probabilities the profiles give (one multinomial draw, exactly what throwing them one by one
gives); the probability missing from the cells is lost (outside the window or the layers)."""

from __future__ import annotations

import math

import numpy as np

from hepgan.geometry import Geometry
from hepgan.geometry.material import Material
from hepgan.sim.config import SimConfig, SpotParameters


def spot_count(p: SpotParameters, material: Material, energy_mev: np.ndarray) -> np.ndarray:
    """Number of equal energy spots per shower: N = n[0] ln(Z) E^n[1] (E in GeV), at least 1."""
    coef = p.n_sampling if material.is_sampling else p.n_homogeneous
    n = coef[0] * math.log(material.z_eff) * (np.asarray(energy_mev, float) / 1000.0) ** coef[1]
    return np.maximum(np.rint(n), 1).astype(np.int64)


def deposit(config: SimConfig, geometry: Geometry, probs: np.ndarray, energy_mev: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """(N, n_cells) energy deposited per cell by showers of ``energy_mev`` whose cell
    probabilities are ``probs``. Without spots (``config.spots.enabled`` false), the mean deposit."""
    if not config.spots.enabled:
        return probs * energy_mev[:, None]
    lost = np.clip(1.0 - probs.sum(axis=1, keepdims=True), 0.0, None)
    pvals = np.concatenate([probs, lost], axis=1)
    pvals /= pvals.sum(axis=1, keepdims=True)
    n_spots = spot_count(config.spots, geometry.material, energy_mev)
    return rng.multinomial(n_spots, pvals)[:, :-1] * (energy_mev / n_spots)[:, None]


__all__ = ["deposit", "spot_count"]
