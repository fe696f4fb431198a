"""Further standardised per-shower quantities for the critics and the moment penalty: the
layers' shapes, the cells' linear shares and the strip layer's E_ratio."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hepgan.errors import ConfigError
from hepgan.geometry import GridLayer, get_geometry
from hepgan.models.calo.features import _share_of_layer
from hepgan.models.calo.standardiser import ConditionalStandardiser

HIT_SOFTNESS = 0.25  # ln-share scale over which a shape summary's soft hit count goes from 0 to 1
STRIPS_LAYER = "strips"  # the layer whose eta profile defines E_ratio


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
