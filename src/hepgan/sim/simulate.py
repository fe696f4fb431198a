"""The reference shower simulator: GFLASH-style electromagnetic showers in any hepgan geometry
(charged pions, on geometries with interaction lengths, are drawn by :mod:`hepgan.sim.hadronic`).

For each shower: draw the impact point, the photon conversion depth and the correlated
longitudinal shape; integrate the depth profile over each layer in slices and the core + tail
radial profile (evolving with depth) over each cell in closed form; distribute a fixed number of
equal energy spots over the cells by a multinomial draw (exactly what throwing the spots one by
one would give, at a cost independent of their number); then let each cell's visible energy
fluctuate as a Gamma variable with variance a^2 E (the sampling term), scale the shower by a
constant-term factor, add electronic noise and clip negative energies.

Showers are generated in fixed blocks of rows (1024, fewer for geometries with many cells), each
with its own random stream derived from the random seed, so the output depends on that seed only, never
on ``chunk_size``. Chunks are capped at about ``hepgan.data.showers.MAX_CHUNK_VALUES`` cell values so that memory stays
bounded whatever the geometry.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.special import gammainc
from tqdm import tqdm

from hepgan.data.hdf5 import ShowerWriter
from hepgan.data.showers import ShowerData, chunk_rows
from hepgan.data.summary import ShowerSummary
from hepgan.geometry import Geometry, GridLayer, PolarLayer, get_geometry
from hepgan.sim.config import HADRONS, SimConfig, load_sim_config, replace_energy_fields
from hepgan.sim.profiles import (
    annulus_fractions,
    radial_parameters,
    rectangle_fractions,
    sample_longitudinal,
)
from hepgan.sim.hadronic import simulate_hadron_block
from hepgan.sim.readout import read_out
from hepgan.sim.spots import deposit
from hepgan.sim.truth import ShowerTruth

BLOCK = 1024
MAX_BLOCK_VALUES = 2**22


def block_rows(geometry: Geometry) -> int:
    """Rows per random-stream block: 1024, or a smaller power of two for very fine geometries."""
    rows = BLOCK
    while rows > 16 and rows * geometry.n_cells > MAX_BLOCK_VALUES:
        rows //= 2
    return rows


def event_conditions(config: SimConfig) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Incident energies (MeV) and impact conditions of every event, in file order."""
    geometry = get_geometry(config.geometry)
    rng = np.random.default_rng([config.seed, 0])
    energies = config.energy_spectrum().draw_mev(rng)
    return energies, geometry.sample_impact(rng, energies.shape[0])


class _Slices:
    """Depth slices of every layer: where each starts and ends, at the reference incidence."""

    def __init__(self, geometry: Geometry, slice_x0: float):
        lo, hi, owner = [], [], []
        for i, layer in enumerate(geometry.layers):
            front, back = layer.depth_x0
            n = max(1, math.ceil((back - front) / slice_x0 - 1e-9))
            edges = np.linspace(front, back, n + 1)
            lo.extend(edges[:-1])
            hi.extend(edges[1:])
            owner.extend([i] * n)
        self.lo, self.hi, self.owner = np.array(lo), np.array(hi), np.array(owner)
        self.of_layer = [np.flatnonzero(self.owner == i) for i in range(len(geometry.layers))]


def _cell_probabilities(config: SimConfig, geometry: Geometry, slices: _Slices, energy_mev, conditions, shape, start):
    """(N, n_cells) probability that a spot lands in each cell (the rest is lost)."""
    n = energy_mev.shape[0]
    scale = geometry.path_scale(conditions, n)[:, None]
    lo = slices.lo[None, :] * scale - start[:, None]
    hi = slices.hi[None, :] * scale - start[:, None]
    alpha, beta = shape.alpha[:, None], shape.beta[:, None]
    weight = gammainc(alpha, beta * np.maximum(hi, 0.0)) - gammainc(alpha, beta * np.maximum(lo, 0.0))
    tau = np.maximum(0.5 * (lo + hi), 0.0) / shape.t_max[:, None]
    r_core, r_tail, p_core = radial_parameters(energy_mev / 1000.0, tau, geometry.material, config.radial)
    moliere = geometry.material.moliere_mm
    probs = []
    for layer, idx in zip(geometry.layers, slices.of_layer):
        w_core = (weight[:, idx] * p_core[:, idx])[:, :, None]
        w_tail = (weight[:, idx] * (1.0 - p_core[:, idx]))[:, :, None]
        rc, rt = r_core[:, idx] * moliere, r_tail[:, idx] * moliere
        if isinstance(layer, GridLayer):
            xe, ye = geometry.lateral_edges_mm(layer, conditions, n)
            fc = rectangle_fractions(xe, ye, rc).reshape(n, len(idx), -1)
            ft = rectangle_fractions(xe, ye, rt).reshape(n, len(idx), -1)
            probs.append((w_core * fc + w_tail * ft).sum(axis=1))
        elif isinstance(layer, PolarLayer):
            fc, ft = annulus_fractions(layer.r_edges_mm, rc), annulus_fractions(layer.r_edges_mm, rt)
            ring = (w_core * fc + w_tail * ft).sum(axis=1) / layer.n_alpha
            probs.append(np.tile(ring, (1, layer.n_alpha)))
        else:  # pragma: no cover - new layer kinds must be taught to the simulator
            raise TypeError(f"simulator cannot handle layer type {type(layer).__name__}")
    return np.concatenate(probs, axis=1)


def simulate_block(
    config: SimConfig, energy_mev: np.ndarray, conditions: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, ShowerTruth]:
    """Showers (N, n_cells) in MeV (float32) for the given energies and impact conditions."""
    if config.particle in HADRONS:
        return simulate_hadron_block(config, energy_mev, conditions, rng)
    geometry = get_geometry(config.geometry)
    slices = _Slices(geometry, config.slice_x0)
    n = energy_mev.shape[0]
    shape = sample_longitudinal(rng, energy_mev, geometry.material, config.longitudinal)
    if config.particle == "photon":
        start = rng.exponential(config.conversion_length_x0, size=n)
    else:
        start = np.zeros(n)
    probs = _cell_probabilities(config, geometry, slices, energy_mev, conditions, shape, start)
    deposited = deposit(config, geometry, probs, energy_mev, rng)
    theta = 1000.0 * config.sampling_term**2  # Gamma scale in MeV: variance a^2 E
    visible = rng.gamma(deposited / theta, theta) if theta > 0 else deposited.copy()
    visible = read_out(config, geometry, visible, rng)
    truth = ShowerTruth(deposited.sum(axis=1), shape.t_max, shape.alpha, start)
    return visible.astype(np.float32), truth


def _simulate_chunk(config: SimConfig, first_block: int, energies: np.ndarray, conditions: dict[str, np.ndarray]):
    """Simulate consecutive blocks starting at ``first_block``; runs in a worker process too."""
    block = block_rows(get_geometry(config.geometry))
    attrs = {"simulator": "hepgan.sim", "sim_config": config.model_dump(mode="json")}
    parts, truths = [], []
    for i, start in enumerate(range(0, energies.shape[0], block)):
        rows = slice(start, start + block)
        cond = {k: v[rows] for k, v in conditions.items()}
        rng = np.random.default_rng([config.seed, 1, first_block + i])
        showers, t = simulate_block(config, energies[rows], cond, rng)
        parts.append(ShowerData(showers, energies[rows, None], {k: v[:, None] for k, v in cond.items()}, config.geometry, attrs))
        truths.append(t)
    return ShowerData.concat(parts), ShowerTruth.concat(truths)


def iter_simulation(
    config: SimConfig, *, truth: bool = False, workers: int = 1
) -> Iterator[ShowerData | tuple[ShowerData, ShowerTruth]]:
    """Yield the configured showers chunk by chunk (about ``config.chunk_size`` rows each), in order.

    With ``workers`` > 1 chunks are simulated in that many processes, at most two chunks per
    worker in flight, so memory stays bounded; the showers are identical to a one-process run.
    """
    energies, conditions = event_conditions(config)
    geometry = get_geometry(config.geometry)
    block = block_rows(geometry)
    step = max(1, chunk_rows(config.chunk_size, geometry.n_cells) // block) * block
    jobs = [
        (config, start // block, energies[start : start + step], {k: v[start : start + step] for k, v in conditions.items()})
        for start in range(0, energies.shape[0], step)
    ]
    if workers <= 1 or len(jobs) <= 1:
        results = (_simulate_chunk(*job) for job in jobs)
    else:
        results = _in_processes(jobs, workers)
    for data, t in results:
        yield (data, t) if truth else data


def _in_processes(jobs: list, workers: int):
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(_simulate_chunk, *job))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def simulate(config: SimConfig | None = None, *, out: str | Path | None = None, progress: bool = False,
             workers: int = 1, **overrides) -> ShowerData | ShowerSummary:
    """Simulate the configured showers; ``overrides`` replace config fields.

    Without ``out`` the showers are returned as a :class:`ShowerData`. With ``out`` they are
    streamed chunk by chunk into a CaloChallenge-layout HDF5 file (atomically: the file appears
    only when complete) and the per-energy :class:`ShowerSummary` is returned. ``workers``
    processes share the work; the showers do not depend on it.
    """
    config = _resolve(config, overrides)
    if out is None:
        return ShowerData.concat(list(iter_simulation(config, workers=workers)))
    geometry = get_geometry(config.geometry)
    summary = ShowerSummary(config.geometry)
    names = list(geometry.impact.names) if geometry.impact else []
    start = time.perf_counter()
    attrs = {"simulator": "hepgan.sim", "sim_config": config.model_dump(mode="json")}
    with (
        ShowerWriter(out, n_cells=geometry.n_cells, geometry=config.geometry, condition_names=names, attrs=attrs) as writer,
        tqdm(total=config.total_events, unit="shower", disable=not progress, desc="simulate") as bar,
    ):
        for chunk in iter_simulation(config, workers=workers):
            writer.append(chunk)
            summary.update(chunk)
            bar.update(len(chunk))
    summary.seconds = time.perf_counter() - start
    return summary


def simulate_with_truth(config: SimConfig | None = None, **overrides) -> tuple[ShowerData, ShowerTruth]:
    """Like :func:`simulate`, also returning the per-shower truth (deposited energy, profile)."""
    config = _resolve(config, overrides)
    pairs = list(iter_simulation(config, truth=True))
    return ShowerData.concat([p[0] for p in pairs]), ShowerTruth.concat([p[1] for p in pairs])


def _resolve(config: SimConfig | None, overrides: dict) -> SimConfig:
    config = config or SimConfig()
    if overrides:
        config = load_sim_config(None, **replace_energy_fields(config.model_dump(), overrides))
    return config
