"""The flagship calorimeter GAN: a conditional WGAN-GP that builds a shower the way its physics is
structured, so the networks only have to learn what the structure does not already say.

A shower of energy-normalised cells x (E_cell / E_inc) is described hierarchically by

* ln r,           r = sum(x), the response (E_tot / E_inc);
* ln(f_l + eps),  f_l = E_layer / E_tot, how the energy splits between the layers;
* ln(g_c + eps),  g_c = E_cell / E_layer(c), the shape within each layer;

and every one of these features is standardised by a mean and a width that are *functions of
the conditions* (a low-order polynomial in the encoded ln E, impact position, alignment code and
impact offset, fitted by ridge least squares on the training data). In that space the textbook
difficulty of the ATLAS FastCaloGAN study's WGAN-GP (a 1-10 % resolution at energies three decades apart)
disappears: the response of every energy, including one left out of training, is near N(0, 1),
and the network learns the deviations and correlations. The generator's head inverts the map:
exp for the response, a softmax over the layers, and within each layer a softmax whose shares
below a few eps are exactly 0, so generated showers are non-negative, add up by construction and
are as sparse as the data (in layers of a few big hits, whole-deposit sampling does that instead;
see :class:`CellFluctuations`). The cell floor eps can follow the data's smallest deposit (``adaptive``),
which falls by decades with the energy. The critics see the standardised features; a second
critic sees only the response and layer features (the ATLAS FastCaloGAN study's summary critic); with
``shape_summaries`` both also see each layer's linear fraction, centroids, widths, hottest share
and occupancy. docs/flagship.md has the ablation.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy import special
from torch import nn

from hepgan.errors import ConfigError
from hepgan.geometry import GridLayer, get_geometry
from hepgan.models.layer_calibration import LayerCalibration
from hepgan.models.response_calibration import ResponseCalibration
from hepgan.models.wgan import WGANGP


def _share_of_layer(x: torch.Tensor, layers: torch.Tensor, layer_matrix: torch.Tensor) -> torch.Tensor:
    """Each cell's share of its layer's energy, from the (N, layers) layer sums (0 in an empty layer)."""
    return x / (layers.clamp_min(1e-12) @ layer_matrix.T)


SPLINE_MIN_VALUES = 100  # a condition with this many distinct values in the data is splined (calo.knots)


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


EPS_CELL_RANGE = (1e-7, 0.1)  # the cell floor, fixed or adaptive, stays within this range
ADAPTIVE_EPS_RATIO = 16.0  # adaptive eps_cell: the smallest share of a shower over this
HIT_SOFTNESS = 0.25  # ln-share scale over which a shape summary's soft hit count goes from 0 to 1
RAW_MARGIN = 0.1  # how far (in ln) a generated feature may exceed the largest value in the training data
STRIPS_LAYER = "strips"  # the layer whose eta profile defines E_ratio
RIDGE = 1e-4  # per training row: keeps the fits' coefficients small where the conditions barely vary


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


def _smallest_deposits(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (N, cells) deposits of one layer: which showers hit >= 2 cells there, and the smallest
    hit cell of each of those (about one energy quantum: the adaptive floor and the fluctuations'
    quantum are both fitted to it)."""
    hit = part > 0
    usable = hit.sum(axis=1) >= 2
    return usable, np.where(hit[usable], part[usable], np.inf).min(axis=1)


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


class ShowerFeatures(nn.Module):
    """The hierarchical features of energy-normalised cells, and their inverse (the generator head)."""

    def __init__(self, geometry: str, cond_dim: int, degree: int, eps_layer: float,
                 eps_cell: float | str, empty_below: float = 3.0, eps_cell_ratio: float = ADAPTIVE_EPS_RATIO,
                 knots: int = 0, unthresholded: list[str] = ()):
        super().__init__()
        g = get_geometry(geometry)
        self.slices = [(s.start, s.stop) for s in g.layer_slices]
        # layers whose cells the head keeps however small (whole-deposit sampling makes them sparse)
        self.unthresholded = {i for i, layer in enumerate(g.layers) if layer.name in unthresholded}
        self.n_layers = len(self.slices)
        self.n_cells = g.n_cells
        self.eps_layer, self.empty_below = eps_layer, empty_below
        self.adaptive = eps_cell == "adaptive"
        if not self.adaptive and not EPS_CELL_RANGE[0] <= float(eps_cell) <= EPS_CELL_RANGE[1]:
            raise ConfigError(f"calo.eps_cell must be 'adaptive' or a number in [{EPS_CELL_RANGE[0]:g}, "
                              f"{EPS_CELL_RANGE[1]:g}], got {eps_cell!r}")
        self.eps_cell_ratio = eps_cell_ratio
        layer_of = torch.from_numpy(np.asarray(g.cell_layer, np.int64))
        self.register_buffer("layer_matrix", nn.functional.one_hot(layer_of, self.n_layers).float())
        # Summaries vary by a few percent (ln r at 262 GeV: 0.018). ln(cell fraction) features jump
        # by ~10 between empty and hit; a cell that is almost always empty must not get a tiny
        # width, or its rare hits would sit hundreds of widths out.
        min_std = torch.full((self.dim,), 0.5)
        min_std[: self.n_summary] = 1e-4
        self.standardiser = ConditionalStandardiser(cond_dim, self.dim, degree, min_std, knots)
        # ln(eps_cell) of each layer, a polynomial in the conditions like the standardisation (a
        # constant unless adaptive)
        self.register_buffer("log_eps_coef", torch.zeros(self.standardiser.mean_coef.shape[0], self.n_layers))
        if not self.adaptive:
            self.log_eps_coef[0] = math.log(float(eps_cell))
        raw_max = torch.zeros(self.dim)
        raw_max[0] = math.log(3.0)
        raw_max[1:] = 5.0  # softmax logits: ln(fraction) <= 0 in the data; a margin keeps gradients alive
        self.register_buffer("_raw_max", raw_max)
        smallest_eps = EPS_CELL_RANGE[0] if self.adaptive else float(eps_cell)
        raw_min = torch.full((self.dim,), math.log(min(eps_layer, smallest_eps)) - 5.0)
        raw_min[0] = -math.inf
        self.register_buffer("_raw_min", raw_min)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints from before the adaptive floor have no ln(eps) coefficients: their fixed eps
        # is what the constructor put there
        state_dict.setdefault(prefix + "log_eps_coef", self.log_eps_coef.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def dim(self) -> int:
        return 1 + self.n_layers + self.n_cells

    @property
    def n_summary(self) -> int:
        """The first features (response and layer split) are the physics summaries."""
        return 1 + self.n_layers

    def eps_cells(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, n_cells) floor inside ln(cell share + eps) for these conditions."""
        log_eps = self.standardiser.evaluate(self.log_eps_coef, cond, n)
        return log_eps.exp().clamp(*EPS_CELL_RANGE) @ self.layer_matrix.T

    def empty_threshold(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, n_cells) share below which the head makes a cell empty."""
        return self.eps_cells(cond, n) * self.empty_below

    def raw(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Unstandardised features [ln r, ln(f_l + eps), ln(g_c + eps)] of (N, n_cells) cells."""
        x = x.clamp_min(0.0)
        layers = x @ self.layer_matrix
        total = layers.sum(dim=1, keepdim=True).clamp_min(1e-12)
        fractions = layers / total
        within = _share_of_layer(x, layers, self.layer_matrix)
        eps = self.eps_cells(cond, x.shape[0])
        return torch.cat([total.log(), (fractions + self.eps_layer).log(), (within + eps).log()], dim=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Standardised features, as the critics see them."""
        mean, std = self.standardiser(cond, x.shape[0])
        return (self.raw(x, cond) - mean) / std

    def cells(self, v: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Energy-normalised cells from standardised features (the generator's head)."""
        mean, std = self.standardiser(cond, v.shape[0])
        # the response stays below 3; far below ln(eps) a share is 0 anyway, and exp there would
        # make slow subnormal floats
        raw = (mean + std * v).clamp(min=self._raw_min, max=self._raw_max)
        response = raw[:, :1].exp()
        fractions = _shares(raw[:, 1 : self.n_summary], self.eps_layer * self.empty_below)  # empty layers too
        empty = self.empty_threshold(cond, v.shape[0])
        parts = [_shares(raw[:, self.n_summary + a : self.n_summary + b],
                         0.0 if l in self.unthresholded else empty[:, a:b])
                 * fractions[:, l : l + 1] for l, (a, b) in enumerate(self.slices)]
        return response * torch.cat(parts, dim=1)

    def fit(self, x: np.ndarray, cond: np.ndarray | None) -> None:
        x = np.asarray(x, np.float32)
        self.standardiser.set_condition_kinds(cond)
        if self.adaptive:
            self._fit_eps(x, cond)
        with torch.no_grad():
            raw = self.raw(torch.from_numpy(x), None if cond is None else torch.from_numpy(cond.astype(np.float32)))
            raw = raw.double().numpy()
        self.standardiser.fit(raw, cond, n_exact=self.n_summary)
        # No feature goes (much) beyond what the data ever show: the exp in the head turns the
        # upper tail of a generated ln(fraction) into far too much energy in a rare place
        # (e.g. a back-layer fraction 6x too spread).
        self._raw_max.copy_(torch.from_numpy(raw.max(axis=0) + RAW_MARGIN).float().minimum(self._raw_max))

    def _fit_eps(self, x: np.ndarray, cond: np.ndarray | None) -> None:
        """eps of each layer = (smallest non-empty share in a shower) / ratio, the smallest share's
        geometric mean fitted as a polynomial in the conditions over the showers with >= 2 hit cells
        in that layer. The smallest deposit is about one energy spot, a share that falls by decades
        with the energy; a fixed eps either lumps the real small deposits of high-energy showers
        with the empty cells (and the generator then cannot make them) or, small enough for those,
        puts a gap of ~ln(1/eps) between empty and hit cells that a low-energy shower's few large
        shares never use."""
        basis = self.standardiser.numpy_basis(cond, len(x))
        coef = np.zeros((basis.shape[1], len(self.slices)))
        for l, (a, b) in enumerate(self.slices):
            part = x[:, a:b].astype(np.float64)
            usable, smallest = _smallest_deposits(part)
            if usable.sum() < basis.shape[1] + 10:  # (almost) never two hit cells: any floor will do
                coef[0, l] = math.log(EPS_CELL_RANGE[1])
                continue
            smallest_share = smallest / part[usable].sum(axis=1)
            coef[:, l] = _ridge(basis[usable], np.log(smallest_share)[:, None])[:, 0]
            coef[0, l] -= math.log(self.eps_cell_ratio)
        self.standardiser.store(self.log_eps_coef, coef, cond)


class ShapeSummaries(nn.Module):
    """Differentiable per-layer observables, standardised like the features: the layer's energy
    fraction (linear: the ln-fraction feature hides a back layer with 8x the real energy in its
    tail), the energy-weighted centroid and RMS width along both lateral axes, the hottest
    cell's share, and a soft occupancy: the mean over the layer's cells of
    sigmoid(ln(share / threshold) / HIT_SOFTNESS), the threshold being the head's (empty_below x eps).
    The cell features show each cell's own on/off distribution; how many cells a shower lights
    up (the sparsity) is a count, which only these summaries show the critics.

    They are what the physics validation (widths, R_eta, E_ratio) looks at, and what a critic on
    266 ln-shares sees only as a weak, spread-out signal; given to the critics directly, a wrong
    width is one number off instead of many small ones. Grid layers use cell-pitch units, polar
    layers x = r cos(alpha), y = r sin(alpha) in units of the outer radius.
    """

    per_layer = 7

    def __init__(self, geometry: str, cond_dim: int, degree: int, knots: int = 0):
        super().__init__()
        g = get_geometry(geometry)
        self.slices = [(s.start, s.stop) for s in g.layer_slices]
        coords = []
        for layer in g.layers:
            centres = np.asarray(layer.cell_centres(), np.float64)
            if hasattr(layer, "pitch"):
                coords.append(centres / np.asarray(layer.pitch, np.float64))
            else:  # polar: (alpha, r)
                r = centres[:, 1] / max(centres[:, 1].max(), 1e-12)
                coords.append(np.stack([r * np.cos(centres[:, 0]), r * np.sin(centres[:, 0])], axis=1))
        self.register_buffer("coords", torch.from_numpy(np.concatenate(coords).astype(np.float32)))
        layer_of = torch.from_numpy(np.asarray(g.cell_layer, np.int64))
        self.register_buffer("layer_matrix", nn.functional.one_hot(layer_of, len(g.layers)).float())
        self.standardiser = ConditionalStandardiser(cond_dim, self.dim, degree, min_std=1e-3, knots=knots)

    @property
    def dim(self) -> int:
        return self.per_layer * len(self.slices)

    def raw(self, x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
        """(N, 7 x layers): fraction, centroid a, centroid b, width a, width b, hottest share (0 for an
        empty layer), occupancy; ``threshold`` (N, n_cells) is the share below which a cell is empty."""
        x = x.clamp_min(0.0)
        layers = x @ self.layer_matrix
        fractions = layers / layers.sum(dim=1, keepdim=True).clamp_min(1e-12)
        shares = _share_of_layer(x, layers, self.layer_matrix)
        a, b = self.coords[:, 0], self.coords[:, 1]
        mean_a, mean_b = (shares * a) @ self.layer_matrix, (shares * b) @ self.layer_matrix
        # + 1e-4 keeps sqrt differentiable for one-cell and empty layers
        width_a = ((shares * a * a) @ self.layer_matrix - mean_a**2).clamp_min(0.0).add(1e-4).sqrt()
        width_b = ((shares * b * b) @ self.layer_matrix - mean_b**2).clamp_min(0.0).add(1e-4).sqrt()
        hottest = torch.stack([shares[:, i:j].amax(dim=1) for i, j in self.slices], dim=1)
        lit = torch.sigmoid(((shares + 1e-30).log() - threshold.log()) / HIT_SOFTNESS)
        occupancy = (lit @ self.layer_matrix) / self.layer_matrix.sum(dim=0)
        return torch.cat([fractions, mean_a, mean_b, width_a, width_b, hottest, occupancy], dim=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None, threshold: torch.Tensor) -> torch.Tensor:
        mean, std = self.standardiser(cond, x.shape[0])
        return (self.raw(x, threshold) - mean) / std

    def fit(self, x: np.ndarray, cond: np.ndarray | None, threshold: torch.Tensor) -> None:
        with torch.no_grad():
            raw = self.raw(torch.from_numpy(np.asarray(x, np.float32)), threshold).double().numpy()
        self.standardiser.fit(raw, cond)


class _StandardisedQuantity(nn.Module):
    """A per-shower quantity ``raw(x)`` of energy-normalised cells, standardised as a function of the
    conditions by a :class:`ConditionalStandardiser` fitted on the training showers."""

    standardiser: ConditionalStandardiser
    exact_width = False  # a Gaussian maximum-likelihood width (else the ln-residual fit)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        mean, std = self.standardiser(cond, x.shape[0])
        return (self.raw(x) - mean) / std

    def fit(self, x: np.ndarray, cond: np.ndarray | None) -> None:
        with torch.no_grad():
            raw = self.raw(torch.from_numpy(np.asarray(x, np.float32))).double().numpy()
        self.standardiser.fit(raw, cond, n_exact=raw.shape[1] if self.exact_width else 0)


class LinearShares(_StandardisedQuantity):
    """Each cell's linear share of its layer, standardised as a function of the conditions, for the
    main critic. The cell features are ln-shares, where an empty cell and a small deposit are far
    apart but the core cells that set R_eta, R_phi, E_ratio and the widths are squeezed together;
    those observables are sums (or maxima) of linear shares, which a critic on ln-shares can only
    form after learning an exponential. In the quickstart budget it lowered the FPD but not the
    classifier AUC (docs/flagship.md)."""

    def __init__(self, geometry: str, cond_dim: int, degree: int, knots: int = 0):
        super().__init__()
        g = get_geometry(geometry)
        layer_of = torch.from_numpy(np.asarray(g.cell_layer, np.int64))
        self.register_buffer("layer_matrix", nn.functional.one_hot(layer_of, len(g.layers)).float())
        # a cell that is almost always empty must not get a tiny width (its rare hits would sit
        # hundreds of widths out); 0.01 is a few energy spots' share at low energy
        self.standardiser = ConditionalStandardiser(cond_dim, g.n_cells, degree, min_std=1e-2, knots=knots)

    @property
    def dim(self) -> int:
        return self.layer_matrix.shape[0]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp_min(0.0)
        return _share_of_layer(x, x @ self.layer_matrix, self.layer_matrix)


class StripEratio(_StandardisedQuantity):
    """E_ratio of the strip layer's eta profile, (E1 - E2) / (E1 + E2) of its two highest local
    maxima (1 with fewer than two), standardised as a function of the conditions, for the moment
    penalty (``calo.eratio_moments``). The gradient flows through the two peaks' values, as in max
    pooling. E_ratio is the observable no critic input has brought into line, so this tries a
    direct pull on its conditional mean and width; in the quickstart budget it made E_ratio worse
    (docs/flagship.md)."""

    exact_width = True

    def __init__(self, geometry: str, cond_dim: int, degree: int, knots: int = 0):
        super().__init__()
        g = get_geometry(geometry)
        strips = [i for i, layer in enumerate(g.layers) if layer.name == STRIPS_LAYER and isinstance(layer, GridLayer)]
        if not strips:
            raise ConfigError(f"calo.eratio_moments needs a grid layer named {STRIPS_LAYER!r} (as the evaluation's "
                              f"E_ratio does); geometry {geometry!r} has none")
        self.cells = g.layer_slices[strips[0]]
        self.shape = tuple(g.layers[strips[0]].shape)
        self.standardiser = ConditionalStandardiser(cond_dim, 1, degree, min_std=1e-3, knots=knots)

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1) E_ratio, as hepgan.metrics.physics.observables.eratio defines it."""
        profile = x[:, self.cells].clamp_min(0.0).reshape(-1, *self.shape).sum(dim=2)
        peak = torch.ones_like(profile, dtype=torch.bool)
        peak[:, :-1] &= profile[:, :-1] > profile[:, 1:]
        peak[:, 1:] &= profile[:, 1:] > profile[:, :-1]
        top = torch.where(peak, profile, torch.full_like(profile, -1.0)).topk(2, dim=1).values
        e1, e2 = top[:, 0], top[:, 1]
        two = e2 > 0  # (profiles are non-negative: -1 marks "no such peak")
        ratio = (e1 - e2) / torch.where(two, e1 + e2, torch.ones_like(e1))
        return torch.where(two, ratio, torch.ones_like(ratio))[:, None]


def _shares(logits: torch.Tensor, empty_below: float | torch.Tensor) -> torch.Tensor:
    """Each cell's share of its layer: a softmax (smooth in the network's output, and never all
    zero), with shares below ``empty_below`` set to exactly 0 and the rest renormalised. An
    empty cell's feature is ln(eps), so it comes back as a share of about eps: exactly empty, as in
    the data, instead of a shower full of tiny deposits. The zeroed shares add up to less than
    (cells in the layer) x empty_below, small where the floor is small (many cells, small
    deposits); the largest share is always kept, so a layer is never emptied (and never divided
    by 0) where the floor is large (few cells hit, big deposits)."""
    shares = torch.softmax(logits, dim=1)
    # the largest share always stays: a threshold above 1/cells must not empty the whole layer
    largest = shares >= shares.amax(dim=1, keepdim=True)
    kept = torch.where((shares > empty_below) | largest, shares, torch.zeros_like(shares))
    return kept / kept.sum(dim=1, keepdim=True)


MIN_DEPOSIT_SHARE = 0.01  # a deposit layer's cell below this x one deposit is emptied outright: it would be
# whole in < 1 % of the draws, and then with a gradient factor (deposit / cell) > 100


class CellFluctuations(nn.Module):
    """Independent cell-to-cell fluctuations whose variance grows with the cell's energy, as a
    calorimeter's do: a shower deposits its energy in quanta (particles crossing the active
    layers), so a cell of energy E fluctuates by about sqrt(E x quantum). The quantum of each
    layer is estimated from the data's smallest deposits (a polynomial in the conditions, its ln
    fitted by ridge least squares), times a learned scale per layer.

    A dense body fed by a few dozen latent values makes smooth profiles or correlated patterns;
    the secondary peaks of a strip profile, which E_ratio measures, are independent counting
    fluctuations on top of a smooth shape. Here the body makes the shape and this layer the
    fluctuations: Gaussian, cut at 0, so that a cell expected to hold a fraction of a quantum is
    often empty, as a count would be (a log-normal that keeps every hit cell hit did much worse,
    docs/flagship.md). Empty cells stay empty, and each layer is rescaled to its energy before the
    fluctuations, so the response and the layer split stay the body's. ``layers`` limits them to
    the named layers (all when None). With ``power`` the width is sqrt(E x quantum) x (E /
    quantum)^b, b learned per layer from 0, so the critics choose how the width grows with the
    cell's energy (the quickstart's presampler learned b = -0.5, its strips and middle about 0).
    With ``shape='gamma'`` a cell fluctuates as a Gamma variable of the same mean and width instead
    of a Gaussian cut at 0: skewed up, as the count of a few deposits in a shower's tail is.

    With a ``floor`` > 0, the fluctuating cells holding less than floor x the layer's typical
    smallest deposit are then emptied (a layer's largest cell stays, unless the whole layer holds
    less than that). A real cell is hit by at least one deposit, so it never holds a sliver of
    one: in the reference simulator's showers < 2 % of hit cells hold less than 0.2 x the typical
    smallest deposit. Cut at 0, the Gaussian leaves such slivers behind (5-9 % of the generated hit
    cells in strips and middle). The other layers keep their cells: flooring the back layer too
    narrowed its widths (docs/flagship.md).

    ``deposit_layers`` are made of whole deposits instead (the back layer, with 0-2 hits up to
    16 GeV; the recipes also the strips' and middle's small cells): a cell expected to hold less
    than one mean deposit holds one with probability (its energy / mean deposit), and nothing
    otherwise, so each cell's mean energy, and the layer's mean profile, stay the body's. Given a
    smooth profile (``calo.deposit_smooth``: the head keeps every cell of
    these layers), the hit count and the hit positions then follow from the profile, as a count
    of deposits would; the head's threshold concentrated a 16 GeV back layer in one cell in 2 of
    3 showers (real: 1 in 4). A whole deposit's energy is log-uniform within exp(+-spread) of its
    mean, the spread learned per layer (one value per deposit would be a comb in the layer energy),
    or (``deposit_shape='above'``) log-uniform from one deposit up to exp(spread) deposits: as the
    spread grows it then adds big deposits, never slivers (around its mean, a learned spread of 2.2
    in the full recipe made deposits of 0.05-4.4 x the smallest one).
    """

    def __init__(self, geometry: str, cond_dim: int, degree: int, scale: float, layers: list[str] | None = None,
                 floor: float = 0.0, deposit_layers: list[str] = (), deposit_size: float = 1.0,
                 deposit_spread: float = 0.0, deposit_shape: str = "around", power: bool = False,
                 shape: str = "gaussian"):
        super().__init__()
        self.power = bool(power)
        if shape not in ("gaussian", "gamma"):
            raise ConfigError(f"calo.fluctuation_shape must be 'gaussian' or 'gamma', not {shape!r}")
        self.shape = shape
        g = get_geometry(geometry)
        self.floor = float(floor)
        self.deposit_size = float(deposit_size)
        if deposit_shape not in ("around", "above"):
            raise ConfigError(f"calo.deposit_shape must be 'around' or 'above', not {deposit_shape!r}")
        self.deposit_shape = deposit_shape
        self.layer_slices = [(s.start, s.stop) for s in g.layer_slices]
        names = [layer.name for layer in g.layers]
        for option, chosen_names in (("fluctuation_layers", layers or ()), ("deposit_layers", deposit_layers)):
            unknown = sorted(set(chosen_names) - set(names))
            if unknown:
                raise ConfigError(f"calo.{option}: geometry {geometry!r} has no layer "
                                  f"{', '.join(map(repr, unknown))}; its layers are {', '.join(names)}")
        layer_of = torch.from_numpy(np.asarray(g.cell_layer, np.int64))
        self.register_buffer("layer_matrix", nn.functional.one_hot(layer_of, len(g.layers)).float())
        # (chosen cells, cells): places each latent value on its cell
        self.register_buffer("placement", self._placement(g, [i for i, name in enumerate(names)
                                                              if layers is None or name in layers]))
        self.register_buffer("fluctuating", self.placement.sum(dim=0) > 0, persistent=False)
        self.register_buffer("deposit_placement", self._placement(g, [i for i, name in enumerate(names)
                                                                      if name in deposit_layers]), persistent=False)
        self.register_buffer("in_deposits", self.deposit_placement.sum(dim=0) > 0, persistent=False)
        self.basis_of = ConditionalStandardiser(cond_dim, len(g.layers), degree)  # its basis; the mean fit is ln(quantum)
        self.log_scale = nn.Parameter(torch.full((len(g.layers),), math.log(scale)))
        # a whole deposit's energy: log-uniform within exp(+-spread) around its mean, or from one deposit
        # up to exp(spread) deposits (learned per layer)
        self.deposit_spread = nn.Parameter(torch.full((len(g.layers),), float(deposit_spread)))
        # the width's exponent in (cell / quantum), learned per layer (only with ``power``: configs without
        # it keep their parameters, and their checkpoints' optimiser states, as before)
        self.width_exponent = nn.Parameter(torch.zeros(len(g.layers))) if self.power else None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints from before whole-deposit sampling have no spread (and no deposit layers)
        state_dict.setdefault(prefix + "deposit_spread", self.deposit_spread.detach().clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @staticmethod
    def _placement(g, chosen: list[int]) -> torch.Tensor:
        """(cells of the chosen layers, cells) one-hot rows."""
        if not chosen:
            return torch.zeros(0, g.n_cells)
        cells = torch.cat([torch.arange(g.layer_slices[i].start, g.layer_slices[i].stop) for i in chosen])
        return nn.functional.one_hot(cells, g.n_cells).float()

    @property
    def dim(self) -> int:
        """One latent value per fluctuating cell and per cell of the deposit layers."""
        return self.placement.shape[0] + self.deposit_placement.shape[0]

    def smallest_deposit(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, layers) the fitted typical smallest deposit (in units of the incident energy)."""
        return self.basis_of.evaluate(self.basis_of.mean_coef, cond, n).exp()

    def quantum(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, cells) energy quantum (in units of the incident energy) times the learned scale."""
        return self._quantum_of_cells(self.smallest_deposit(cond, n))

    def _quantum_of_cells(self, smallest: torch.Tensor) -> torch.Tensor:
        return (smallest * self.log_scale.exp()) @ self.layer_matrix.T

    def forward(self, x: torch.Tensor, noise: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Fluctuated cells, from (N, cells) cells and (N, dim) standard-normal noise."""
        hit = x > 0
        smallest = self.smallest_deposit(cond, x.shape[0])
        safe = torch.where(hit, x, torch.ones_like(x))  # sqrt's gradient at an empty cell would be infinite
        quantum = self._quantum_of_cells(smallest)
        std = (safe * quantum).sqrt()
        if self.power:
            std = std * torch.exp((self.width_exponent @ self.layer_matrix.T) * torch.log(safe / quantum))
        z = noise[:, : self.placement.shape[0]] @ self.placement
        if self.shape == "gamma":
            # Wilson-Hilferty: a Gamma of shape k = (x / std)^2 is about x (1 - 1/(9k) + z / (3 sqrt(k)))^3
            relative = std / safe
            cube = (1.0 - relative * relative / 9.0 + relative * z / 3.0).clamp_min(0.0)
            # (not pow: ONNX-friendly); the other layers' cells (z = 0) stay as they are
            y = torch.where(hit, torch.where(self.fluctuating, safe * cube * cube * cube, x), torch.zeros_like(x))
        else:
            y = torch.where(hit, (x + std * z).clamp_min(0.0), torch.zeros_like(x))
        before = x @ self.layer_matrix
        # a layer whose every cell fell below 0 keeps its energy unfluctuated
        y = torch.where(self._any_hit(y), self._rescaled(y, before), x)
        if self.floor > 0:
            y = self._rescaled(self._floored(y, (self.floor * smallest) @ self.layer_matrix.T), before)
        if self.deposit_placement.shape[0]:
            deposit = (self.deposit_size * smallest) @ self.layer_matrix.T
            y = self._in_whole_deposits(y, deposit, noise[:, self.placement.shape[0]:] @ self.deposit_placement)
        return y

    def _in_whole_deposits(self, y: torch.Tensor, deposit: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``y`` with each cell of the deposit layers that holds less than one deposit's mean made
        one deposit with probability y / mean and empty otherwise (a standard-normal ``noise`` value
        per cell decides): its expected energy, and so the mean profile, stays. The gradient passes
        through the factor that makes a cell whole or empty as through a constant: an emptied cell
        gets none (as the head's empty cells), a whole one the gradient of ln(cell) its sliver had,
        which is what the critics' ln features see; over the draws, the mean energy's gradient is 1.
        (Passing the identity's gradient instead sent the critics' 1/eps slope at an empty cell
        into the generator, and the quickstart diverged within 500 steps.)"""
        uniform = 0.5 * (1.0 + torch.erf(noise * (0.5**0.5)))
        spread = (self.deposit_spread.abs() @ self.layer_matrix.T)[None, :]
        mean = (deposit * self._deposit_mean(spread)).detach()  # only thresholds and detached factors use it
        y = torch.where(self.in_deposits & (y < MIN_DEPOSIT_SHARE * mean), torch.zeros_like(y), y)
        small = self.in_deposits & (y > 0) & (y < mean)
        safe = y.clamp_min(1e-30)
        whole = small & (uniform * mean < y)
        factor = torch.where(whole, mean / safe, torch.zeros_like(y)).detach()
        # given that it is whole, uniform x mean / y is uniform in [0, 1): where in its spread it lies
        energy = self._deposit_energy(spread, (uniform * mean / safe).clamp(max=1.0).detach())
        return torch.where(small, y * factor * energy, y)

    def _deposit_mean(self, spread: torch.Tensor) -> torch.Tensor:
        """A whole deposit's mean energy in deposits: (exp(s) - 1) / s when log-uniform from one
        deposit up to exp(s) deposits ('above'), 1 when its spread lies around the mean."""
        if self.deposit_shape == "around":
            return torch.ones_like(spread)
        s = spread.clamp_min(1e-4)
        return torch.where(spread > 0, (s.exp() - 1.0) / s, torch.ones_like(s))  # not expm1: ONNX has no such op

    def _deposit_energy(self, spread: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """(N, cells) a whole deposit's energy in units of its mean, log-uniform at ``position`` in
        [0, 1]: within exp(+-s), exp(s (2 position - 1)) x s / sinh(s), since sinh(s) / s is the mean
        of exp(s u) for u uniform in [-1, 1]; from 1 to exp(s), exp(s position) x s / (exp(s) - 1)
        (1 where the spread is 0)."""
        s = spread.clamp_min(1e-4)
        if self.deposit_shape == "around":
            energy = torch.exp(s * (2.0 * position - 1.0)) * 2.0 * s / (s.exp() - (-s).exp())
        else:
            energy = torch.exp(s * position) * s / (s.exp() - 1.0)
        return torch.where(spread > 0, energy, torch.ones_like(energy))

    def _any_hit(self, y: torch.Tensor) -> torch.Tensor:
        """(N, cells): whether the cell's layer has a hit cell in ``y``."""
        return (y > 0).float() @ self.layer_matrix @ self.layer_matrix.T > 0

    def _rescaled(self, y: torch.Tensor, energies: torch.Tensor) -> torch.Tensor:
        """``y`` with each layer that has a hit cell scaled to hold ``energies`` (N, layers)."""
        after = y @ self.layer_matrix
        ratio = torch.where(after > 0, energies / after.clamp_min(1e-30), torch.zeros_like(after))
        return y * (ratio @ self.layer_matrix.T)

    def _floored(self, y: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
        """``y`` with the fluctuating cells below ``floor`` emptied. A layer's largest cell stays if
        the layer's energy reaches the floor; a layer holding less than that is emptied (its
        energy, less than ``floor`` x the smallest deposit, is lost: real showers do not have such
        layers either)."""
        largest = torch.cat([y[:, a:b].amax(dim=1, keepdim=True).expand(-1, b - a) for a, b in self.layer_slices], dim=1)
        layer_energy = (y @ self.layer_matrix) @ self.layer_matrix.T
        keep = (y >= floor) | ((y >= largest) & (layer_energy >= floor)) | ~self.fluctuating
        return torch.where(keep & (y > 0), y, torch.zeros_like(y))

    def fit(self, x: np.ndarray, cond: np.ndarray | None) -> None:
        """ln(quantum) of each layer: the ln of the smallest deposit of the showers with >= 2 hit
        cells there, fitted as a polynomial in the conditions (a layer that is never hit twice
        gets the smallest deposit seen anywhere)."""
        self.basis_of.set_condition_kinds(cond)
        basis = self.basis_of.numpy_basis(cond, len(x))
        coef = np.zeros((basis.shape[1], self.basis_of.mean_coef.shape[1]))
        layer_of = self.layer_matrix.argmax(dim=1).numpy()
        positive = x[x > 0]
        fallback = math.log(float(positive.min())) if positive.size else math.log(EPS_CELL_RANGE[0])
        for l in range(coef.shape[1]):
            usable, smallest = _smallest_deposits(np.asarray(x[:, layer_of == l], np.float64))
            if usable.sum() < basis.shape[1] + 10:
                coef[0, l] = fallback
                continue
            coef[:, l] = _ridge(basis[usable], np.log(smallest)[:, None])[:, 0]
        self.basis_of.store(self.basis_of.mean_coef, coef, cond)


class StructuredGenerator(nn.Module):
    """A network body that outputs standardised features, and the head that makes them cells.

    With a Gaussian path, the last ``gaussian_dim`` latent values also reach the first
    ``gaussian_dim`` outputs (the summaries, or all features) through a learnable linear map
    initialised to the Cholesky factor of the training features' covariance: the untrained
    generator then already has the right response, resolution and layer-energy spreads, with their
    correlations, at every energy, and the body learns what is not Gaussian. (For the cell
    features a Gaussian in ln(fraction) is a poor start: its upper tail puts far too much energy
    in outer cells.)

    With cell noise (``cell_noise`` > 0) the latent ends with one more value per cell, added to
    that cell's feature with a learned per-cell scale: independent cell-to-cell fluctuations
    (the bumps of a strip profile), which a dense body fed by a few dozen latent values can only
    make as correlated patterns. In the quickstart budget it changed nothing beyond seed noise
    (docs/flagship.md). With ``fluctuations`` (:class:`CellFluctuations`) the cells the head makes
    fluctuate by their energy quanta. The latent is [body's (with the Gaussian path's last), cell
    noise, fluctuations' noise], the last two when configured. With ``layer_calibration``
    (:class:`LayerCalibration`, fitted after training) each layer is then scaled so that the layer
    fractions follow the training data's distributions at the shower's energy, and with
    ``calibration`` (:class:`ResponseCalibration`, fitted after it) each shower so that the
    response does.
    """

    def __init__(self, body: nn.Module, features: ShowerFeatures, gaussian_dim: int, cell_noise: float = 0.0,
                 fluctuations: CellFluctuations | None = None, calibration: ResponseCalibration | None = None,
                 layer_calibration: LayerCalibration | None = None):
        super().__init__()
        self.body = body
        self.features = features
        self.gaussian_dim = gaussian_dim
        self.gaussian = nn.Parameter(torch.zeros(gaussian_dim, gaussian_dim)) if gaussian_dim else None
        n_noise = features.n_cells if cell_noise > 0 else 0
        self.noise_scale = nn.Parameter(torch.full((n_noise,), float(cell_noise))) if n_noise else None
        self.fluctuations = fluctuations
        self.noise_dim = n_noise + (fluctuations.dim if fluctuations is not None else 0)
        self.layer_calibration = layer_calibration
        self.calibration = calibration

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.noise_dim:
            z, noise = z[:, : -self.noise_dim], z[:, -self.noise_dim :]
        v = self.body(z, cond)
        if self.gaussian is not None:
            k = self.gaussian_dim
            v = torch.cat([v[:, :k] + z[:, -k:] @ self.gaussian.T, v[:, k:]], dim=1)
        if self.noise_scale is not None:
            n_summary, n_cells = self.features.n_summary, self.features.n_cells
            v = torch.cat([v[:, :n_summary], v[:, n_summary:] + noise[:, :n_cells] * self.noise_scale], dim=1)
        x = self.features.cells(v, cond)
        if self.fluctuations is not None:
            x = self.fluctuations(x, noise[:, -self.fluctuations.dim :], cond)
        if self.layer_calibration is not None:
            x = self.layer_calibration(x, cond)
        if self.calibration is not None:
            x = self.calibration(x, cond)
        return x

    def fit_gaussian(self, x: torch.Tensor, cond: torch.Tensor | None) -> None:
        if self.gaussian is None:
            return
        with torch.no_grad():
            phi = self.features(x, cond)[:, : self.gaussian_dim].double()
            cov = torch.cov(phi.T).reshape(self.gaussian_dim, self.gaussian_dim)
            cov = cov + 1e-4 * torch.eye(self.gaussian_dim, dtype=torch.float64)
            self.gaussian.copy_(torch.linalg.cholesky(cov).float())


class CaloWGAN(WGANGP):
    """Conditional WGAN-GP on hierarchical, condition-standardised shower features (the losses are
    WGAN-GP's; only what the critics see differs)."""

    family = "calo_wgan"
    needs_conditions = True

    def __init__(self, config, sample_shape, cond_dim, geometry=None):
        nn.Module.__init__(self)  # its networks are built here, not by the layout-only base classes
        if geometry is None:
            raise ConfigError("model family 'calo_wgan' needs shower data on a known geometry")
        g = get_geometry(geometry)
        if tuple(sample_shape) != (g.n_cells,):
            raise ConfigError(f"model family 'calo_wgan' needs samples of {g.n_cells} cells "
                              f"(geometry {geometry!r}), got shape {tuple(sample_shape)}")
        if cond_dim == 0:
            raise ConfigError("model family 'calo_wgan' is conditional: give the data conditions")
        self.config = config
        self.sample_shape = tuple(sample_shape)
        self.cond_dim = cond_dim
        self.geometry = geometry
        opts = config.calo
        features = ShowerFeatures(geometry, cond_dim, opts.degree, opts.eps_layer, opts.eps_cell, opts.empty_below,
                                  opts.eps_cell_ratio, opts.knots, opts.deposit_layers if opts.deposit_smooth else ())
        gaussian_dim = {"none": 0, "summaries": features.n_summary, "all": features.dim}[opts.gaussian_path]
        body_latent = config.latent_dim + gaussian_dim
        body = self._build(config.generator, (body_latent,), (features.dim,), "generator")
        self._scale_last_layer(body, opts.head_init_scale)
        if opts.cell_floor > 0 and opts.cell_fluctuations <= 0:
            raise ConfigError("calo.cell_floor is a fraction of the fluctuations' fitted smallest deposit: "
                              "set calo.cell_fluctuations > 0")
        if opts.deposit_layers and opts.cell_fluctuations <= 0:
            raise ConfigError("calo.deposit_layers' deposit is the fluctuations' fitted smallest deposit: "
                              "set calo.cell_fluctuations > 0")
        fluctuations = (CellFluctuations(geometry, cond_dim, opts.degree, opts.cell_fluctuations,
                                         opts.fluctuation_layers, opts.cell_floor, opts.deposit_layers,
                                         opts.deposit_size, opts.deposit_spread, opts.deposit_shape,
                                         opts.fluctuation_power, opts.fluctuation_shape)
                        if opts.cell_fluctuations > 0 else None)
        # (only when asked for: other configs keep their state dicts as before)
        calibration = ResponseCalibration() if opts.calibrate_response else None
        layer_calibration = (LayerCalibration([layer.n_cells for layer in g.layers])
                             if opts.calibrate_layers else None)
        self.generator = StructuredGenerator(body, features, gaussian_dim, opts.cell_noise, fluctuations, calibration,
                                             layer_calibration)
        self.latent_dim = body_latent + self.generator.noise_dim
        self.shapes = ShapeSummaries(geometry, cond_dim, opts.degree, opts.knots) if opts.shape_summaries else None
        n_shapes = self.shapes.dim if self.shapes is not None else 0
        self.linear_shares = LinearShares(geometry, cond_dim, opts.degree, opts.knots) if opts.linear_shares else None
        if opts.eratio_moments and opts.moment_weight <= 0:
            raise ConfigError("calo.eratio_moments adds E_ratio to the moment penalty: set calo.moment_weight > 0")
        self.eratio = StripEratio(geometry, cond_dim, opts.degree, opts.knots) if opts.eratio_moments else None
        n_linear = self.linear_shares.dim if self.linear_shares is not None else 0
        self.critics = nn.ModuleDict({"critic": self._build(config.critic, (features.dim + n_shapes + n_linear,), (1,),
                                                            "critic")})
        if config.summary_critic is not None:
            self.critics["summary"] = self._build(config.summary_critic.layout, (features.n_summary + n_shapes,), (1,),
                                                  "summary_critic")
        if config.noise_injection > 0:
            self._add_noise_injection(config.noise_injection)

    @staticmethod
    def _scale_last_layer(body: nn.Module, scale: float) -> None:
        """Start near the conditional mean shower: small output weights, zero bias."""
        last = [m for m in body.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            last.weight.mul_(scale)
            if last.bias is not None:
                last.bias.zero_()

    @property
    def features(self) -> ShowerFeatures:
        return self.generator.features

    def fit_data(self, x, cond, energies_mev=None):
        cond_np = cond.numpy() if cond is not None else None
        self.features.fit(x.numpy(), cond_np)
        if self.generator.fluctuations is not None:
            self.generator.fluctuations.fit(x.numpy(), cond_np)
        if self.shapes is not None:
            self.shapes.fit(x.numpy(), cond_np, self.features.empty_threshold(cond, len(x)))
        if self.linear_shares is not None:
            self.linear_shares.fit(x.numpy(), cond_np)
        if self.eratio is not None:
            self.eratio.fit(x.numpy(), cond_np)
        self.generator.fit_gaussian(x, cond)

    def clean_view(self, x, cond):
        """The critics compare showers in the standardised feature space (and, with
        calo.shape_summaries, the standardised layer shapes after it)."""
        return self._standardised(x, cond)

    @torch.no_grad()
    def fixed_real_views(self, x, cond):
        """The standardised features of the training showers: the standardisation is fitted before
        training and fixed during it (5 % of a quickstart step went to computing them per batch)."""
        return torch.cat([self.clean_view(part, c) for part, c in zip(x.split(10_000), cond.split(10_000))])

    @torch.no_grad()
    def calibrate(self, generator: StructuredGenerator, x: torch.Tensor, cond: torch.Tensor,
                  seed: int = 0) -> dict[str, dict]:
        """Fit ``generator``'s calibrations (calo.calibrate_layers, then calo.calibrate_response;
        this model's generator or a copy with other weights, such as the weight average) to the
        training showers ``x``. Returns {"layers" / "response": what each fit returned}, empty
        when it has none."""
        noise = torch.Generator().manual_seed(seed)

        def generate(c: torch.Tensor) -> torch.Tensor:
            return torch.cat([generator(torch.randn(len(part), self.latent_dim, generator=noise), part)
                              for part in c.split(10_000)])

        fitted = {}
        if generator.layer_calibration is not None:  # first: the response map leaves fractions alone
            fitted["layers"] = generator.layer_calibration.fit(generate, x, cond, seed=seed)
        if generator.calibration is not None:
            fitted["response"] = generator.calibration.fit(generate, x, cond, seed=seed)
        return fitted

    def _standardised(self, x, cond):
        """[features, shape summaries, linear shares], the last two when configured."""
        parts = [self.features(x, cond)]
        if self.shapes is not None:
            parts.append(self.shapes(x, cond, self.features.empty_threshold(cond, x.shape[0])))
        if self.linear_shares is not None:
            parts.append(self.linear_shares(x, cond))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def generator_loss(self, cond, n):
        """WGAN-GP's, plus (with calo.moment_weight) a pull of the batch's standardised summaries
        towards mean 0 and width 1: that is their distribution in the data at *every* condition,
        by construction of the standardisation, so the term needs no conditional statistics. It
        counters the critics' slow grip on the spread: without it the generated resolution came
        out 4-13 % too narrow at 2-131 GeV (3 seeds of the quickstart). With calo.moment_groups the
        pull acts within groups of similar energy (see :func:`summary_moments`); with
        calo.eratio_moments it also holds the strip layer's E_ratio."""
        x = self.generate(self.sample_latent(n), cond)
        view = self._standardised(x, cond)
        loss, logs = self.adversarial_generator_loss(self.critic_input(view), cond)
        weight = self.config.calo.moment_weight
        if weight > 0:
            z = view[:, : self.features.n_summary]  # the features once, without instance noise
            if self.eratio is not None:
                z = torch.cat([z, self.eratio(x, cond)], dim=1)
            moment = summary_moments(z, cond, self.config.calo.moment_groups)
            loss = loss + weight * moment
            logs = {**logs, "moment": float(moment.detach()), "loss_g": float(loss.detach())}
        return loss, logs

    def summary_view(self, view):
        """The summary critic sees the response and layer features (and the layer shapes)."""
        summaries = view[:, : self.features.n_summary]
        if self.shapes is None:
            return summaries
        start = self.features.dim
        return torch.cat([summaries, view[:, start : start + self.shapes.dim]], dim=1)


def summary_moments(z: torch.Tensor, cond: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Mean over summaries and groups of (mean z)^2 - var z / n + (ln std z - bias)^2, the batch
    split into ``groups`` runs of similar first condition (the energy).

    Standardised summaries are N(0, 1) at every condition, so every such group must have mean 0
    and width 1; pooled over the whole batch (one group), a width too narrow at some energies and
    too wide at others cancels out. Small groups need two corrections, or the penalty's minimum
    moves off the true width (averaged over many batches): (mean z)^2 alone has expectation
    mu^2 + sigma^2 / n and so rewards a narrower width (-3 % for n = 32), hence the - var / n;
    and ln std is biased low (E ln s = ``bias``, -1.6 % for n = 32)."""
    order = torch.argsort(cond[:, 0])
    terms = []
    for part in torch.tensor_split(z[order], max(1, min(groups, len(z) // 2))):
        n = part.shape[0]
        var = part.var(dim=0)
        terms.append(part.mean(dim=0).square() - var / n + (0.5 * var.log() - _log_std_bias(n)).square())
    return torch.stack(terms).mean()


@functools.lru_cache(maxsize=64)
def _log_std_bias(n: int) -> float:
    """E[ln s] for the sample standard deviation s of n draws from a unit Gaussian."""
    return 0.5 * (float(special.digamma((n - 1) / 2)) + math.log(2 / (n - 1)))


def feature_dim(geometry: str) -> int:
    """Width of the generator body's output for ``geometry`` (1 + layers + cells)."""
    g = get_geometry(geometry)
    return 1 + len(g.layers) + g.n_cells


__all__ = [
    "CaloWGAN", "CellFluctuations", "ConditionalStandardiser", "LinearShares", "ShapeSummaries", "ShowerFeatures",
    "StripEratio", "StructuredGenerator", "feature_dim", "summary_moments",
]
