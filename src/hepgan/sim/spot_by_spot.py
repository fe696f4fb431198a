"""The classic GFLASH algorithm, one spot at a time: an independent check of the fast simulator.

Every spot gets a depth from the shower's gamma profile, a radius from the core + tail profile at
that depth and a uniform azimuth, and is binned into the cell it lands in. Given the same shower
shapes this draws from exactly the distribution that :mod:`hepgan.sim.simulate` samples in closed
form (multinomial over integrated cell probabilities); tests compare the two and the benchmark
uses this as its baseline. Sampling fluctuations, the constant term and noise are left out: they
act after the spots and are shared code.
"""

from __future__ import annotations

import numpy as np

from hepgan.geometry import GridLayer, PolarLayer, get_geometry
from hepgan.sim.config import SimConfig
from hepgan.sim.profiles import radial_parameters, sample_longitudinal
from hepgan.sim.spots import spot_count


def simulate_spots_block(
    config: SimConfig, energy_mev: np.ndarray, conditions: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Deposited energy per cell (N, n_cells), in MeV, from spots thrown one by one."""
    geometry = get_geometry(config.geometry)
    n = energy_mev.shape[0]
    shape = sample_longitudinal(rng, energy_mev, geometry.material, config.longitudinal)
    start = rng.exponential(config.conversion_length_x0, size=n) if config.particle == "photon" else np.zeros(n)
    scale = geometry.path_scale(conditions, n)
    x_edges, y_edges = {}, {}
    for j, layer in enumerate(geometry.layers):
        if isinstance(layer, GridLayer):
            x_edges[j], y_edges[j] = geometry.lateral_edges_mm(layer, conditions, n)
    n_spots = spot_count(config.spots, geometry.material, energy_mev)
    out = np.zeros((n, geometry.n_cells))
    for i in range(n):
        k = int(n_spots[i])
        depth = start[i] + rng.gamma(shape.alpha[i], 1.0 / shape.beta[i], size=k)  # along the axis, X0
        tau = (depth - start[i]) / shape.t_max[i]
        r_core, r_tail, p_core = radial_parameters(energy_mev[i : i + 1] / 1000.0, tau[None, :], geometry.material, config.radial)
        radius_scale = np.where(rng.random(k) < p_core[0], r_core[0], r_tail[0]) * geometry.material.moliere_mm
        u = rng.random(k)
        radius = radius_scale * np.sqrt(u / (1.0 - u))
        phi = rng.uniform(0.0, 2.0 * np.pi, size=k)
        dx, dy = radius * np.cos(phi), radius * np.sin(phi)
        spot_energy = energy_mev[i] / k
        for j, (layer, sl) in enumerate(zip(geometry.layers, geometry.layer_slices)):
            front, back = layer.depth_x0[0] * scale[i], layer.depth_x0[1] * scale[i]
            inside = (depth >= front) & (depth < back)
            if not inside.any():
                continue
            if isinstance(layer, GridLayer):
                ia = np.searchsorted(x_edges[j][i], dx[inside], side="right") - 1
                ib = np.searchsorted(y_edges[j][i], dy[inside], side="right") - 1
                ok = (ia >= 0) & (ia < layer.shape[0]) & (ib >= 0) & (ib < layer.shape[1])
                cells = ia[ok] * layer.shape[1] + ib[ok]
            elif isinstance(layer, PolarLayer):
                r_edges = np.asarray(layer.r_edges_mm)
                ir = np.searchsorted(r_edges, radius[inside], side="right") - 1
                ia = np.floor(phi[inside] / (2.0 * np.pi) * layer.n_alpha).astype(int)
                ok = (ir >= 0) & (ir < len(r_edges) - 1)
                cells = ia[ok] * (len(r_edges) - 1) + ir[ok]
            else:  # pragma: no cover
                raise TypeError(f"cannot bin spots into {type(layer).__name__}")
            out[i, sl] += np.bincount(cells, minlength=layer.n_cells) * spot_energy
    return out
