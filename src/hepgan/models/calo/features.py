"""The hierarchical shower features [ln r, ln(f_l + eps), ln(g_c + eps)], standardised as a
function of the conditions, and their inverse, the generator's head (see
:mod:`hepgan.models.calo.family`)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models.calo.standardiser import ConditionalStandardiser, _ridge

EPS_CELL_RANGE = (1e-7, 0.1)  # the cell floor, fixed or adaptive, stays within this range
ADAPTIVE_EPS_RATIO = 16.0  # adaptive eps_cell: the smallest share of a shower over this
RAW_MARGIN = 0.1  # how far (in ln) a generated feature may exceed the largest value in the training data


def _share_of_layer(x: torch.Tensor, layers: torch.Tensor, layer_matrix: torch.Tensor) -> torch.Tensor:
    """Each cell's share of its layer's energy, from the (N, layers) layer sums (0 in an empty layer)."""
    return x / (layers.clamp_min(1e-12) @ layer_matrix.T)


def _smallest_deposits(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (N, cells) deposits of one layer: which showers hit >= 2 cells there, and the smallest
    hit cell of each of those (about one energy quantum: the adaptive floor and the fluctuations'
    quantum are both fitted to it)."""
    hit = part > 0
    usable = hit.sum(axis=1) >= 2
    return usable, np.where(hit[usable], part[usable], np.inf).min(axis=1)


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


def feature_dim(geometry: str) -> int:
    """Width of the generator body's output for ``geometry`` (1 + layers + cells)."""
    g = get_geometry(geometry)
    return 1 + len(g.layers) + g.n_cells
