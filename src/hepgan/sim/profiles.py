"""Shower profiles: the fluctuated longitudinal shape, the radial shape at each depth, and the
fraction of a radial profile that falls into rectangular cells or annuli.

All functions are vectorised over showers (and depth slices) and free of randomness except
:func:`sample_longitudinal`, which takes the generator explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hepgan.geometry.material import Material
from hepgan.sim.config import LongitudinalParameters, RadialParameters


@dataclass
class LongitudinalShape:
    """Per-shower gamma profile in radiation lengths: shower maximum T, shape alpha, rate beta."""

    t_max: np.ndarray
    alpha: np.ndarray

    @property
    def beta(self) -> np.ndarray:
        return (self.alpha - 1.0) / self.t_max


def _inverse_sigma(coef: tuple[float, float], ln_y: np.ndarray, cap: float) -> np.ndarray:
    denom = coef[0] + coef[1] * ln_y
    with np.errstate(divide="ignore"):
        sigma = np.where(denom > 0, 1.0 / np.where(denom > 0, denom, 1.0), cap)
    return np.minimum(sigma, cap)


def longitudinal_moments(energy_mev: np.ndarray, material: Material, p: LongitudinalParameters):
    """Means of ln T and ln alpha, their widths and correlation, per shower."""
    ln_y = np.log(energy_mev / material.critical_energy_mev)
    mean_t_hom = np.maximum(ln_y + p.t_hom, 1.1)
    mean_a_hom = np.maximum(p.a_hom[0] + (p.a_hom[1] + p.a_hom[2] / material.z_eff) * ln_y, 1.1)
    if material.is_sampling:
        inv_fs = 1.0 / material.sampling_frequency
        mean_t = np.maximum(mean_t_hom + p.t_sam[0] * inv_fs + p.t_sam[1] * (1.0 - material.e_over_mip), 1.1)
        mean_a = np.maximum(mean_a_hom + p.a_sam * inv_fs, 1.1)
        sig_t = _inverse_sigma(p.sigma_ln_t_sam, ln_y, p.max_sigma)
        sig_a = _inverse_sigma(p.sigma_ln_a_sam, ln_y, p.max_sigma)
        rho = p.rho_sam[0] + p.rho_sam[1] * ln_y
    else:
        mean_t, mean_a = mean_t_hom, mean_a_hom
        sig_t = _inverse_sigma(p.sigma_ln_t_hom, ln_y, p.max_sigma)
        sig_a = _inverse_sigma(p.sigma_ln_a_hom, ln_y, p.max_sigma)
        rho = p.rho_hom[0] + p.rho_hom[1] * ln_y
    return np.log(mean_t), np.log(mean_a), sig_t, sig_a, np.clip(rho, -0.99, 0.99)


def sample_longitudinal(
    rng: np.random.Generator, energy_mev: np.ndarray, material: Material, p: LongitudinalParameters
) -> LongitudinalShape:
    """Draw correlated log-normal (T, alpha) for each shower."""
    ln_t, ln_a, sig_t, sig_a, rho = longitudinal_moments(energy_mev, material, p)
    z1, z2 = rng.standard_normal((2, energy_mev.shape[0]))
    c1, c2 = np.sqrt((1 + rho) / 2), np.sqrt((1 - rho) / 2)
    t_max = np.maximum(np.exp(ln_t + sig_t * (c1 * z1 + c2 * z2)), 0.5)
    alpha = np.maximum(np.exp(ln_a + sig_a * (c1 * z1 - c2 * z2)), 1.1)
    return LongitudinalShape(t_max=t_max, alpha=alpha)


def radial_parameters(energy_gev: np.ndarray, tau: np.ndarray, material: Material, p: RadialParameters):
    """Core radius, tail radius (Moliere radii) and core weight at relative depth tau.

    ``energy_gev`` is (N,) and ``tau`` (N, S); returns three (N, S) arrays.
    """
    ln_e = np.log(energy_gev)[:, None]
    z = material.z_eff
    r_core = p.rc[0] + p.rc[1] * ln_e + (p.rc[2] + p.rc[3] * z) * tau
    k1, k2, k3 = p.rt[0] + p.rt[1] * z, p.rt[2], p.rt[3]
    k4 = p.rt[4] + p.rt[5] * ln_e
    r_tail = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2 = p.wc[0] + p.wc[1] * z, p.wc[2] + p.wc[3] * z
    p3 = p.wc[4] + p.wc[5] * ln_e
    u = (p2 - tau) / p3
    weight = p1 * np.exp(u - np.exp(u))
    if material.is_sampling:
        inv_fs, one_minus_e = 1.0 / material.sampling_frequency, 1.0 - material.e_over_mip
        r_core = r_core + p.rc_sam[0] * one_minus_e + p.rc_sam[1] * inv_fs * np.exp(-tau)
        r_tail = r_tail + p.rt_sam[0] * one_minus_e + p.rt_sam[1] * inv_fs * np.exp(-tau)
        weight = weight + one_minus_e * (p.wc_sam[0] + p.wc_sam[1] * inv_fs * np.exp(-((tau - 1.0) ** 2)))
    r_core = np.maximum(r_core, 1e-3)
    r_tail = np.maximum(r_tail, r_core)
    return r_core, r_tail, np.clip(weight, 0.0, 1.0)


def rectangle_fractions(x_edges: np.ndarray, y_edges: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Fraction of the profile 2 r R^2 / (r^2 + R^2)^2 inside each rectangle of a grid.

    ``x_edges`` (N, nx+1) and ``y_edges`` (N, ny+1) are in the same length unit as ``radius``
    (N, S), relative to the shower axis. Returns (N, S, nx, ny). Uses the closed-form integral of
    the 2-D density R^2 / (pi (x^2 + y^2 + R^2)^2) from the axis to the corner (x, y):
    G = [x/sx atan(y/sx) + y/sy atan(x/sy)] / (2 pi), sx = sqrt(x^2 + R^2), sy = sqrt(y^2 + R^2).
    """
    r2 = (radius**2)[:, :, None]
    x = x_edges[:, None, :]
    y = y_edges[:, None, :]
    sx = np.sqrt(x * x + r2)
    sy = np.sqrt(y * y + r2)
    g = (x / sx)[..., :, None] * np.arctan(y[..., None, :] / sx[..., :, None])
    g += (y / sy)[..., None, :] * np.arctan(x[..., :, None] / sy[..., None, :])
    g *= 1.0 / (2.0 * np.pi)
    return g[..., 1:, 1:] - g[..., :-1, 1:] - g[..., 1:, :-1] + g[..., :-1, :-1]


def annulus_fractions(r_edges: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Fraction of the profile inside each annulus: F(r) = r^2 / (r^2 + R^2). Returns (N, S, n_r)."""
    r2 = np.asarray(r_edges, float) ** 2
    cdf = r2[None, None, :] / (r2[None, None, :] + (radius**2)[:, :, None])
    return np.diff(cdf, axis=-1)

