"""Charged-pion showers, GFLASH-style, vectorised over showers (parameters: ``HadronicParameters``).

For each shower: the pion crosses the calorimeter as a minimum-ionising track (its deposit in each
layer Landau-distributed) until it interacts after an exponential path (mean one lambda_I); from
there the shower's energy follows the two-component longitudinal profile (a gamma distribution in
X0 for the prompt electromagnetic part, one in lambda_I for the rest), integrated over depth slices
of every layer in closed form, and spread laterally with the GFLASH electromagnetic radial profile
(X0 part) or a wider profile scaled by lambda_I (lambda_I part), integrated over cells in closed
form. A fixed number of equal spots is drawn over the cells by one multinomial, as for
electromagnetic showers. Each deposit is a fraction f_em (drawn per shower) electromagnetic and
1 - f_em hadronic; the cell's visible energy is the electromagnetic part plus the hadronic part times
h/e of its calorimeter, each scaled by one Gamma-distributed sampling fluctuation per shower and
calorimeter. Energy deposited in dead material (in front, in the cryostat) or behind the last
layer is lost.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import gammainc

from hepgan.errors import GeometryError
from hepgan.geometry import Geometry, GridLayer, PolarLayer, get_geometry
from hepgan.geometry.hadronic import HadronicLayout
from hepgan.sim.config import SimConfig
from hepgan.sim.profiles import annulus_fractions, radial_parameters, rectangle_fractions
from hepgan.sim.readout import read_out
from hepgan.sim.spots import deposit
from hepgan.sim.truth import ShowerTruth

MIP_RADIUS_MM = 0.5  # a track deposits on the axis: a profile far narrower than any cell
MAX_TAU = 5.0  # depth / T beyond which the electromagnetic radial profile stops evolving
MOYAL_MEAN = float(np.euler_gamma + np.log(2.0))  # mean of -ln(Z^2), Z standard normal


class _Slices:
    """Depth slices of every layer, at most ``slice_x0`` X0 and ``slice_lambda`` lambda_I thick."""

    def __init__(self, geometry: Geometry, slice_x0: float, slice_lambda: float):
        layout = geometry.hadronic
        lo, hi, owner = [], [], []
        for i, layer in enumerate(geometry.layers):
            front, back = layer.depth_x0
            thick_l = float(layout.to_lambda(back) - layout.to_lambda(front))
            n = max(1, int(np.ceil(max((back - front) / slice_x0, thick_l / slice_lambda) - 1e-9)))
            edges = np.linspace(front, back, n + 1)
            lo.extend(edges[:-1])
            hi.extend(edges[1:])
            owner.extend([i] * n)
        self.lo_x0, self.hi_x0, self.owner = np.array(lo), np.array(hi), np.array(owner)
        self.lo_l, self.hi_l = layout.to_lambda(self.lo_x0), layout.to_lambda(self.hi_x0)
        self.of_layer = [np.flatnonzero(self.owner == i) for i in range(len(geometry.layers))]


@lru_cache(maxsize=16)
def _slices(geometry_name: str, slice_x0: float, slice_lambda: float) -> _Slices:
    return _Slices(get_geometry(geometry_name), slice_x0, slice_lambda)


def _profile_medium(layout: HadronicLayout):
    """The medium the longitudinal parameters were measured in: the hadronic calorimeter's."""
    for c in layout.compartments:
        if c.kind == "hadronic":
            return c.material
    return layout.compartments[-1].material


def _spread(layer, geometry: Geometry, conditions, n: int, weight: np.ndarray, radius_mm: np.ndarray) -> np.ndarray:
    """(N, n_cells) share of ``weight`` (N, S) per cell for a profile of radius ``radius_mm`` (N, S)."""
    if isinstance(layer, PolarLayer):
        ring = (weight[:, :, None] * annulus_fractions(layer.r_edges_mm, radius_mm)).sum(axis=1) / layer.n_alpha
        return np.tile(ring, (1, layer.n_alpha))
    if isinstance(layer, GridLayer):
        xe, ye = geometry.lateral_edges_mm(layer, conditions, n)
        frac = rectangle_fractions(xe, ye, radius_mm).reshape(n, radius_mm.shape[1], -1)
        return (weight[:, :, None] * frac).sum(axis=1)
    raise TypeError(f"simulator cannot handle layer type {type(layer).__name__}")  # pragma: no cover


def _beta(rng: np.random.Generator, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Beta-distributed fractions with the given mean and standard deviation (capped to what a
    Beta distribution with that mean allows)."""
    m = np.clip(mean, 1e-4, 1.0 - 1e-4)
    var = np.minimum(sigma**2, 0.9 * m * (1.0 - m))
    if sigma == 0:
        return m.copy()
    k = m * (1.0 - m) / var - 1.0
    return rng.beta(m * k, (1.0 - m) * k)


def _fluctuate(rng: np.random.Generator, cells: np.ndarray, theta: float) -> np.ndarray:
    """The cells (N, n) of one calorimeter scaled by one Gamma-distributed factor per shower, so
    that their sum has variance theta * sum. The fluctuation is drawn for the calorimeter as a
    whole, not cell by cell: the invisible nuclear-binding energy and the number of tracks crossing
    the active layers are properties of the shower; drawn per cell, a Gamma of a small deposit
    (shape deposit / theta << 1) put half of all cells below 1 keV and some at 1e-40 MeV. For the
    same reason the relative fluctuation stops at 100 % (shape at least 1) for a sum below theta,
    where a / sqrt(E), measured from 10 GeV up, no longer holds."""
    if theta <= 0:
        return cells
    total = cells.sum(axis=1)
    shape = np.maximum(total / theta, 1.0)
    drawn = rng.gamma(shape, np.maximum(total, 1e-300) / shape)
    return cells * np.where(total > 0, drawn / np.maximum(total, 1e-300), 0.0)[:, None]


def _one_cell(rng: np.random.Generator, profile: np.ndarray) -> np.ndarray:
    """A layer's track deposit (N, n_cells), spread by its narrow radial profile, put whole into
    one cell drawn from that profile: a track crosses one cell, and the profile's far tail would
    otherwise leave a sliver (1e-5 of the deposit and less) in every cell of the layer."""
    total = profile.sum(axis=1)
    cumulative = np.cumsum(profile, axis=1)
    draw = rng.random(len(profile)) * total
    cell = np.minimum((cumulative < draw[:, None]).sum(axis=1), profile.shape[1] - 1)
    out = np.zeros_like(profile)
    out[np.arange(len(profile)), cell] = total
    return out


def _landau(rng: np.random.Generator, n: int, xi: float) -> np.ndarray:
    """``n`` Landau factors of relative width ``xi`` and mean 1 for a track's deposit in a layer:
    Moyal's approximation -ln(Z^2) of the Landau distribution, shifted to keep the mean loss."""
    moyal = -np.log(np.maximum(rng.standard_normal(n) ** 2, 1e-300))
    return np.maximum(1.0 + xi * (moyal - MOYAL_MEAN), 0.0)


def simulate_hadron_block(
    config: SimConfig, energy_mev: np.ndarray, conditions: dict[str, np.ndarray], rng: np.random.Generator
):
    """Pion showers (N, n_cells) in MeV (float32) and their truth, for the given energies."""

    geometry = get_geometry(config.geometry)
    layout = geometry.hadronic
    if layout is None:
        raise GeometryError(f"geometry {geometry.name!r} has no interaction lengths: it cannot hold hadron showers")
    p = config.hadronic
    n = energy_mev.shape[0]
    sl = _slices(geometry.name, config.slice_x0, p.slice_lambda)
    scale = geometry.path_scale(conditions, n)[:, None]

    # the track until the first interaction, and the energy left for the shower
    start_l = rng.exponential(1.0, size=n)  # lambda_I along the path
    start_ref = start_l / scale[:, 0]  # the same point in reference-incidence units
    mip_before = layout.mip_deposit_mev(start_ref) * scale[:, 0]
    ranged_out = np.minimum(1.0, energy_mev / np.maximum(mip_before, 1e-9))
    mip_slice = (layout.mip_deposit_mev(np.minimum(sl.hi_l[None, :], start_ref[:, None]))
                 - layout.mip_deposit_mev(np.minimum(sl.lo_l[None, :], start_ref[:, None]))) * scale * ranged_out[:, None]
    e_shower = np.maximum(energy_mev - mip_before, 0.0)
    e_gev = np.maximum(e_shower / 1000.0, 0.1)

    # electromagnetic fraction and the two-component longitudinal profile
    mean_fem = p.mean_em_fraction(e_gev)
    f_em = np.where(mean_fem > 0, _beta(rng, mean_fem, p.em_fraction_sigma), 0.0)
    ln_e = np.log(np.minimum(e_gev, p.profile_max_gev))
    a = np.maximum(p.profile_a[0] + p.profile_a[1] * ln_e, 0.2)
    w = np.clip(p.profile_w[0] + p.profile_w[1] * ln_e, 0.0, 1.0)
    medium = _profile_medium(layout)
    x_term = w * (medium.x0_mm / medium.lambda_mm) / p.profile_b**a
    share_x = x_term / (x_term + (1.0 - w) / p.profile_d**a)
    share_x = np.clip(share_x * np.where(mean_fem > 0, f_em / np.maximum(mean_fem, 1e-4), 1.0), 0.0, 1.0)

    start_x0 = layout.to_x0(start_ref)[:, None]
    lo_x = np.maximum((sl.lo_x0[None, :] - start_x0) * scale, 0.0)
    hi_x = np.maximum((sl.hi_x0[None, :] - start_x0) * scale, 0.0)
    lo_l = np.maximum((sl.lo_l[None, :] - start_ref[:, None]) * scale, 0.0)
    hi_l = np.maximum((sl.hi_l[None, :] - start_ref[:, None]) * scale, 0.0)
    a2 = a[:, None]
    w_x = (gammainc(a2, p.profile_b * hi_x) - gammainc(a2, p.profile_b * lo_x)) * share_x[:, None]
    w_l = (gammainc(a2, p.profile_d * hi_l) - gammainc(a2, p.profile_d * lo_l)) * (1.0 - share_x)[:, None]
    t_max = np.maximum((a - 1.0) / p.profile_b, 1.0)  # X0: where the electromagnetic part peaks
    tau = np.minimum(0.5 * (lo_x + hi_x) / t_max[:, None], MAX_TAU)

    # lateral spread, layer by layer, in the medium of each layer's calorimeter
    probs, tracks, seen_track = [], [], []
    for i, (layer, idx) in enumerate(zip(geometry.layers, sl.of_layer)):
        compartment = layout.compartments[layout.layer_compartment[i]]
        material = compartment.material
        r_core, r_tail, p_core = radial_parameters(e_gev * np.maximum(share_x, 1e-3), tau[:, idx], material, config.radial)
        wx = w_x[:, idx]
        cells = _spread(layer, geometry, conditions, n, wx * p_core, r_core * material.moliere_mm)
        cells += _spread(layer, geometry, conditions, n, wx * (1.0 - p_core), r_tail * material.moliere_mm)
        r_had = np.full((n, len(idx)), p.lateral_radius_lambda * material.lambda_mm)
        cells += _spread(layer, geometry, conditions, n, w_l[:, idx], r_had)
        probs.append(cells)
        profile = _spread(layer, geometry, conditions, n, mip_slice[:, idx], np.full((n, len(idx)), MIP_RADIUS_MM))
        track = _one_cell(rng, profile) * _landau(rng, n, p.track_landau_xi[compartment.kind])[:, None]
        tracks.append(track)
        seen_track.append(track / material.e_over_mip)  # a track is seen at 1/e_hat of the electron scale
    probs = np.concatenate(probs, axis=1)
    track_deposit = np.concatenate(tracks, axis=1)
    mip_visible = np.concatenate(seen_track, axis=1)

    deposited = deposit(config, geometry, probs, e_shower, rng)  # at least one spot, even for no energy

    # visible energy: e/h and sampling fluctuations of each calorimeter
    cell_compartment = np.asarray(layout.layer_compartment)[geometry.cell_layer]
    em = deposited * f_em[:, None]
    visible = mip_visible.copy()
    for c, compartment in enumerate(layout.compartments):
        at = cell_compartment == c
        if not at.any():
            continue
        in_em = compartment.kind == "em"
        theta_em = 1000.0 * (config.sampling_term if in_em else p.stochastic_terms["hadronic"]) ** 2
        theta_h = 1000.0 * p.stochastic_terms[compartment.kind] ** 2
        had = (deposited[:, at] - em[:, at]) / p.e_over_h[compartment.kind]
        visible[:, at] += _fluctuate(rng, em[:, at], theta_em) + _fluctuate(rng, had, theta_h)
    visible = read_out(config, geometry, visible, rng)
    truth = ShowerTruth(
        deposited.sum(axis=1) + track_deposit.sum(axis=1), t_max, a, start_x0[:, 0] * scale[:, 0],
        em_fraction=f_em, start_depth_lambda=start_l,
    )
    return visible.astype(np.float32), truth
