"""Per-feature mean and width as functions of the conditions: the ridge least-squares fits
behind every standardisation of the calorimeter family (:mod:`hepgan.models.calo`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SPLINE_MIN_VALUES = 100  # a condition with this many distinct values in the data is splined (calo.knots)
RIDGE = 1e-4  # per training row: keeps the fits' coefficients small where the conditions barely vary


class ConditionalStandardiser(nn.Module):
    """Per-feature mean and width as polynomials in the encoded conditions.

    Continuous condition columns enter with powers 1..degree, 0/1 columns (one-hot codes) linearly;
    the mean and the ln-variance are ridge least-squares fits. With ``knots``, every condition that
    takes at least SPLINE_MIN_VALUES distinct values in the data (the impact position) also enters
    through that many hat functions (a linear spline) over its range: which strip holds a shower's
    core is a step function of the impact position, which no low-order polynomial follows.
    Conditions with few values (the energies of a fixed-energy sample) stay polynomial, so that an
    energy between the trained ones is interpolated smoothly. Coefficients and knots are buffers,
    so they travel with the checkpoint and the exported generator.
    """

    def __init__(self, cond_dim: int, n_features: int, degree: int, min_std: torch.Tensor | float = 1e-4,
                 knots: int = 0):
        super().__init__()
        self.degree = degree
        self.knots = knots
        self.register_buffer("min_std", torch.as_tensor(min_std, dtype=torch.float32).expand(n_features).clone())
        n_basis = 1 + cond_dim * degree + cond_dim * knots
        self.register_buffer("continuous", torch.ones(cond_dim))
        # per condition: first knot, knot spacing, and 1 where it is splined
        self.register_buffer("knot_lo", torch.zeros(cond_dim))
        self.register_buffer("knot_step", torch.ones(cond_dim))
        self.register_buffer("splined", torch.zeros(cond_dim))
        self.register_buffer("mean_coef", torch.zeros(n_basis, n_features))
        self.register_buffer("log_var_coef", torch.zeros(n_basis, n_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints from before the spline basis have no knots (and were fitted without them)
        for name in ("knot_lo", "knot_step", "splined"):
            state_dict.setdefault(prefix + name, getattr(self, name).clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def basis(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, columns in use): the intercept, the powers, and the hat functions of the splined
        conditions only; :meth:`rows` says which coefficient row each column multiplies."""
        ones = torch.ones(n, 1, dtype=self.mean_coef.dtype, device=self.mean_coef.device)
        if cond is None or cond.shape[1] == 0 or self.mean_coef.shape[0] == 1:
            return ones
        powers = [cond] if self.degree else []
        for k in range(2, self.degree + 1):
            powers.append(cond.pow(k) * self.continuous)  # a 0/1 column's powers would repeat it
        if self.knots and self.splined.any():
            powers.append(self._hats(cond[:, self.splined > 0]))
        return torch.cat([ones, *powers], dim=1)

    def rows(self, cond: torch.Tensor | np.ndarray | None) -> torch.Tensor:
        """Indices of the coefficient rows that :meth:`basis` fills for these conditions. The
        coefficients keep a row per hat function of every condition (the checkpoint format), but
        an unsplined condition's hats are 0, and computing them took ~5 ms of a ~135 ms quickstart
        step (torch profiler)."""
        if cond is None or cond.shape[1] == 0 or self.mean_coef.shape[0] == 1:
            return torch.zeros(1, dtype=torch.long, device=self.mean_coef.device)
        n_poly = 1 + cond.shape[1] * self.degree
        index = torch.arange(n_poly, device=self.mean_coef.device)
        if not self.knots:
            return index
        splined = torch.nonzero(self.splined > 0)[:, 0]
        hats = n_poly + (splined[:, None] * self.knots + torch.arange(self.knots, device=splined.device)).flatten()
        return torch.cat([index, hats])

    def evaluate(self, coef: torch.Tensor, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, coef columns): the polynomial-and-spline with coefficients ``coef`` at ``cond``."""
        return self.basis(cond, n) @ coef[self.rows(cond)]

    def _hats(self, cond: torch.Tensor) -> torch.Tensor:
        """(n, splined conditions x knots) hat functions of the splined columns ``cond``, flat
        beyond the outer knots."""
        lo, step = self.knot_lo[self.splined > 0], self.knot_step[self.splined > 0]
        c = torch.minimum(torch.maximum(cond, lo), lo + step * (self.knots - 1))
        centres = lo[:, None] + step[:, None] * torch.arange(self.knots, dtype=cond.dtype, device=cond.device)
        return (1.0 - ((c[:, :, None] - centres) / step[:, None]).abs()).clamp_min(0.0).flatten(1)

    def set_condition_kinds(self, cond: np.ndarray | None) -> None:
        """Mark the 0/1 condition columns (one-hot codes), which enter the basis linearly, and place
        the knots of the columns with many values."""
        if cond is not None and cond.shape[1]:
            binary = np.all((cond == 0) | (cond == 1), axis=0)
            self.continuous.copy_(torch.from_numpy((~binary).astype(np.float32)))
            if self.knots:
                for j in range(cond.shape[1]):
                    lo, hi = float(cond[:, j].min()), float(cond[:, j].max())
                    many = hi > lo and len(np.unique(cond[:, j])) >= SPLINE_MIN_VALUES
                    self.splined[j] = float(many)
                    self.knot_lo[j] = lo
                    self.knot_step[j] = (hi - lo) / (self.knots - 1) if many else 1.0

    def numpy_basis(self, cond: np.ndarray | None, n: int) -> np.ndarray:
        return self.basis(None if cond is None else torch.from_numpy(cond.astype(np.float32)), n).double().numpy()

    def store(self, buffer: torch.Tensor, coef: np.ndarray, cond: np.ndarray | None) -> None:
        """Write ``coef``, fitted on :meth:`numpy_basis` (its rows the columns in use), into a
        coefficient buffer (the rows of the hats not in use stay 0)."""
        buffer.zero_()
        buffer[self.rows(cond)] = torch.from_numpy(np.asarray(coef, np.float32)).to(buffer.device)

    def fit(self, features: np.ndarray, cond: np.ndarray | None, n_exact: int = 0) -> None:
        """Fit to (N, n_features) features; the first ``n_exact`` get a maximum-likelihood width."""
        self.set_condition_kinds(cond)
        basis = self.numpy_basis(cond, len(features))
        coef = _ridge(basis, features)
        # The ln-variance as a function of the conditions: a fit to ln(residual^2) follows widths that
        # change by decades with the energy; rescaling it so that the mean of residual^2 / variance
        # is 1 makes it right also for the two-valued features of often-empty cells.
        resid2 = (features - basis @ coef) ** 2
        log_var = _ridge(basis, np.log(resid2 + 1e-12))
        log_var[0] += np.log(np.mean(resid2 / np.exp(basis @ log_var), axis=0) + 1e-12)
        if n_exact:
            log_var[:, :n_exact] = _gaussian_log_var_fit(basis, resid2[:, :n_exact], log_var[:, :n_exact])
        self.store(self.mean_coef, coef, cond)
        self.store(self.log_var_coef, log_var, cond)

    def forward(self, cond: torch.Tensor | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std), each (n, n_features), for these conditions."""
        b, rows = self.basis(cond, n), self.rows(cond)
        return b @ self.mean_coef[rows], (0.5 * (b @ self.log_var_coef[rows])).exp().maximum(self.min_std)


def _ridge(basis: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Least squares with a small ridge (the intercept unpenalised), so that correlated or rare
    condition columns (one-hot codes, the impact offset beside eta) cannot produce huge
    coefficients that make the standardisation, and the generator, jump at tiny condition changes.
    Basis columns that are 0 on every row (the higher powers of a 0/1 condition) get 0."""
    active = _active_columns(basis)
    b = basis[:, active]
    penalty = RIDGE * len(b) * np.eye(b.shape[1])
    penalty[0, 0] = 0.0
    coef = np.zeros((basis.shape[1], *targets.shape[1:]))
    coef[active] = np.linalg.solve(b.T @ b + penalty, b.T @ targets)
    return coef


def _active_columns(basis: np.ndarray) -> np.ndarray:
    """Indices of the basis columns that are not 0 on every row (the intercept always is)."""
    return np.flatnonzero(np.any(basis != 0, axis=0))


def _gaussian_log_var_fit(basis: np.ndarray, resid2: np.ndarray, start: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Maximum-likelihood ln-variance coefficients for Gaussian residuals (Newton's method on the
    convex sum of b.theta + r^2 exp(-b.theta)): right for skewed, tailed response distributions,
    whose ln(r^2) fit underestimates the width where the tails are heavy. Columns that are 0 on
    every row keep their start (the Hessian's cost grows with the square of the columns)."""
    active = _active_columns(basis)
    b = basis[:, active]
    theta = start.copy()
    for _ in range(iterations):
        w = resid2 * np.exp(-(basis @ theta))  # (N, F)
        for f in range(theta.shape[1]):
            grad = b.T @ (1.0 - w[:, f])
            hess = (b * w[:, f : f + 1]).T @ b + RIDGE * len(b) * np.eye(b.shape[1])
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            theta[active, f] -= np.clip(step, -1.0, 1.0)
    return theta
