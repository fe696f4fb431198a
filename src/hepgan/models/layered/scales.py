"""What the layered family learns from the data before training, and the views built on it.

Everything is measured in the detector's own terms, so it carries over to any geometry and to real
Geant4 showers: a cell energy is counted in units of the layer's smallest typical deposit
(``threshold``, the 1 % quantile of the layer's non-empty cells), on a log scale,
``ln(1 + E_cell / threshold)``. Empty cells map to 0, and a 1 GeV and a 1 TeV shower both span a
few units. Generated cells below the threshold are emptied, as no such deposit is seen in the data.

The energies (each layer's and the total) are standardised *given the incident energy*: their
mean and the log of their variance are measured in groups of neighbouring incident energies (each
energy of a discrete spectrum its own group) and interpolated linearly in ln E between them; cubic
polynomials in ln E overshot at the ends of dataset 1's spectrum (at 4 TeV the fitted width of
ln(E_dep / E) was twice the data's). A 1 TeV
shower's deposited energy varies by ~1 %, a 1 GeV shower's by ~10 %: on one global scale the
critic could not tell a width twice too large at high energy; standardised at the incident energy,
it sees it in the same units at every energy.

Some showers leave no energy at all (a low-energy pion that interacts in the dead material in
front of the calorimeter): their share at each incident energy is measured like the energy
moments (``empty_fraction``) and drawn as such; every other constant is fitted on the showers
that hold energy.

The incident energy is read back from the condition vector by an affine map fitted on the
training rows (the condition encoder stores standardised ln E), so the family needs no knowledge
of the encoder.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hepgan.errors import ConfigError

THRESHOLD_QUANTILE = 0.01
MIN_STD = 0.05
ENERGY_GROUPS = 20  # groups of neighbouring incident energies in which the moments are measured
MIN_ENERGY_STD = 0.002  # a 1 TeV electron's deposited energy varies by ~1 %


class ShowerScales(nn.Module):
    """Fitted constants shared by the generator and the critic's view (buffers: saved with the model)."""

    def __init__(self, n_layers: int, width: int, cond_dim: int):
        super().__init__()
        self.register_buffer("log_energy_map", torch.zeros(cond_dim + 1))  # ln E = cond . w + b
        self.register_buffer("threshold", torch.ones(n_layers))  # MeV
        self.register_buffer("log_energy_scale", torch.tensor([0.0, 1.0]))  # centre and width of ln E
        # layer energies and ln(E_dep / E): their mean and the log of their variance at the centres
        # (in scaled ln E) of groups of neighbouring incident energies, interpolated linearly between
        self.register_buffer("energy_knots", torch.zeros(ENERGY_GROUPS))
        self.register_buffer("energy_mean", torch.zeros(n_layers + 1, ENERGY_GROUPS))
        self.register_buffer("energy_log_var", torch.zeros(n_layers + 1, ENERGY_GROUPS))
        self.register_buffer("empty_fraction", torch.zeros(1, ENERGY_GROUPS))  # showers without energy
        self.register_buffer("cell_mean", torch.zeros(n_layers, width))
        self.register_buffer("cell_std", torch.ones(n_layers, 1))  # one width per layer
        self.register_buffer("layer_log_share", torch.zeros(n_layers))  # ln of the mean share of each layer
        self.register_buffer("cell_log_share", torch.zeros(n_layers, width))  # ln of the mean share of each cell

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        mean = state_dict.get(prefix + "energy_mean")
        if mean is not None and prefix + "energy_knots" not in state_dict:
            # sampling the old cubics at the knots moves the high-energy means by up to 5 widths
            raise ConfigError("this layered_wgan checkpoint standardises the energies with cubic polynomials in "
                              "ln E, which this hepgan replaced by per-energy moments; retrain the run")
        if prefix + "energy_knots" in state_dict and prefix + "empty_fraction" not in state_dict:
            # a run from before showers without energy were modelled: its training data had none
            state_dict[prefix + "empty_fraction"] = torch.zeros_like(self.empty_fraction)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def incident_energy(self, cond: torch.Tensor) -> torch.Tensor:
        """(N,) incident energy in MeV from the condition vector."""
        return torch.exp(cond @ self.log_energy_map[:-1] + self.log_energy_map[-1])

    def energy_moments(self, energy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, layers + 1) mean and width of the energy features at these incident energies (MeV)."""
        u = self._scaled_log_energy(energy)
        mean, log_var = self._interpolate(u, self.energy_mean), self._interpolate(u, self.energy_log_var)
        return mean, torch.exp(0.5 * log_var).clamp_min(MIN_ENERGY_STD)

    def empty_probability(self, energy: torch.Tensor) -> torch.Tensor:
        """(N, 1) chance that a shower of this incident energy (MeV) leaves no energy."""
        return self._interpolate(self._scaled_log_energy(energy), self.empty_fraction)

    def _scaled_log_energy(self, energy: torch.Tensor) -> torch.Tensor:
        """ln E in the units the knots are placed in."""
        return (torch.log(energy) - self.log_energy_scale[0]) / self.log_energy_scale[1]

    def _interpolate(self, u: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """(N, F) piecewise-linear interpolation of ``values`` (F, knots) at ``u``, flat outside the
        knots; repeated knots (fewer groups than slots) add nothing."""
        k = self.energy_knots
        step = (k[1:] - k[:-1]).clamp_min(1e-12)
        weight = ((u[:, None] - k[None, :-1]) / step).clamp(0.0, 1.0)  # (N, knots - 1)
        return values[:, 0] + weight @ (values[:, 1:] - values[:, :-1]).T

    def energy_features(self, layer_energy: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """(N, layers + 1) ln(1 + E_layer / threshold) and ln(E_dep / E), standardised at the
        incident energy, from layer energies given as fractions of the incident energy (N, layers)."""
        counted = torch.log1p(layer_energy * energy[:, None] / self.threshold)
        total = torch.log(layer_energy.sum(dim=1, keepdim=True).clamp_min(1e-12))
        mean, std = self.energy_moments(energy)
        return (torch.cat([counted, total], dim=1) - mean) / std

    def cell_features(self, rows: torch.Tensor, energy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(N, layers, width) ln(1 + E_cell / threshold) centred per cell and scaled per layer, zero on the padding."""
        counted = torch.log1p(rows * energy[:, None, None] / self.threshold[:, None])
        return (counted - self.cell_mean) / self.cell_std * mask

    @torch.no_grad()
    def fit(self, rows: np.ndarray, cond: np.ndarray, energies_mev: np.ndarray, mask: np.ndarray) -> None:
        """Fit every constant from training rows (N, layers, width) of cell energies as fractions
        of the incident energy, their condition vectors and incident energies (MeV)."""
        energies = np.asarray(energies_mev, np.float64).reshape(-1)
        if cond.shape[1] == 0:
            raise ConfigError("model family 'layered_wgan' needs the incident energy as a condition (data.conditions)")
        design = np.concatenate([cond.astype(np.float64), np.ones((len(cond), 1))], axis=1)
        weights, *_ = np.linalg.lstsq(design, np.log(energies), rcond=None)
        if np.abs(design @ weights - np.log(energies)).max() > 1e-3:
            raise ConfigError("model family 'layered_wgan' needs the incident energy as a condition (data.conditions)")
        self.log_energy_map.copy_(torch.from_numpy(weights))
        cells = rows * energies[:, None, None]  # MeV
        quantiles = []
        for layer in range(rows.shape[1]):
            hit = cells[:, layer][cells[:, layer] > 0]
            quantiles.append(float(np.quantile(hit, THRESHOLD_QUANTILE)) if hit.size else 1.0)
        self.threshold.copy_(torch.tensor(quantiles))
        holds = rows.sum(axis=(1, 2)) > 0
        if not holds.any():
            raise ConfigError("no training shower holds any energy")
        log_energy_all = np.log(energies)  # empty showers included
        rows, cond, energies, cells = rows[holds], cond[holds], energies[holds], cells[holds]
        layer_energy = rows.sum(axis=2)
        total = layer_energy.sum(axis=1)
        t = torch.from_numpy
        thresholds = self.threshold.double().numpy()  # as stored, so the fit sees the generator's values
        features = np.concatenate([np.log1p(layer_energy * energies[:, None] / thresholds),
                                   np.log(total)[:, None]], axis=1)
        log_energy = np.log(energies)
        scale = (log_energy.mean(), max(log_energy.std(), 1e-6))
        self.log_energy_scale.copy_(torch.tensor(scale))
        u = (log_energy - scale[0]) / scale[1]
        # groups of neighbouring incident energies: each distinct energy of a discrete spectrum, else
        # equal counts; the mean is interpolated between group centres, the variance is that of the
        # residuals around it (a trend within a group is no spread)
        distinct = np.unique(energies)
        if len(distinct) <= ENERGY_GROUPS:
            groups = [np.flatnonzero(energies == e) for e in distinct]
        else:
            groups = np.array_split(np.argsort(u, kind="stable"), max(1, min(ENERGY_GROUPS, len(u) // 10)))
        knots = np.array([u[g].mean() for g in groups])
        means = np.stack([features[g].mean(0) for g in groups], axis=1)  # (F, groups)
        pad = ENERGY_GROUPS - len(groups)
        self.energy_knots.copy_(t(np.concatenate([knots, np.full(pad, knots[-1])])))
        self.energy_mean.copy_(t(np.concatenate([means, np.repeat(means[:, -1:], pad, axis=1)], axis=1)))
        residual = features - self._interpolate(t(u).float(), self.energy_mean).double().numpy()
        log_var = np.stack([np.log(residual[g].var(0) + MIN_ENERGY_STD**2) for g in groups], axis=1)
        self.energy_log_var.copy_(t(np.concatenate([log_var, np.repeat(log_var[:, -1:], pad, axis=1)], axis=1)))
        # every shower, empty or not, counts in the group whose knot is nearest
        group = np.searchsorted(0.5 * (knots[1:] + knots[:-1]), (log_energy_all - scale[0]) / scale[1])
        empty = np.bincount(group, weights=~holds, minlength=len(knots)) / np.bincount(group, minlength=len(knots))
        self.empty_fraction.copy_(t(np.concatenate([empty, np.full(pad, empty[-1])])[None]))
        counted = np.log1p(cells / thresholds[None, :, None])
        mean = counted.mean(0) * mask
        self.cell_mean.copy_(t(mean))
        # one width per layer: a cell the data rarely hit would otherwise turn each generated hit
        # into tens of standard deviations, and the critic's gradients with it
        spread = np.sqrt((((counted - mean) ** 2).mean(0) * mask).sum(1) / mask.sum(1))
        self.cell_std.copy_(t(np.maximum(spread, MIN_STD)[:, None]))
        share = layer_energy / total[:, None]
        self.layer_log_share.copy_(t(np.log(share.mean(0) + 1e-6)))
        within = rows / np.maximum(layer_energy, 1e-30)[:, :, None]
        self.cell_log_share.copy_(t(np.where(mask, np.log(within.mean(0) + 1e-6), 0.0)))


__all__ = ["ShowerScales"]
