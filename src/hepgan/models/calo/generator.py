"""The calorimeter family's generator: a network body, the head that makes its standardised
features cells, and the optional noise, fluctuations and calibrations after it."""

from __future__ import annotations

import torch
from torch import nn

from hepgan.models.calo.features import ShowerFeatures
from hepgan.models.calo.fluctuations import CellFluctuations
from hepgan.models.calo.layer_calibration import LayerCalibration
from hepgan.models.calo.response_calibration import ResponseCalibration


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
