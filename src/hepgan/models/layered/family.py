"""``layered_wgan``: a WGAN-GP for any layered geometry, structured as showers are.

The structure follows the strongest published calorimeter models (CaloFlow, CaloINN, L2LFlows):
energies first (the deposited energy and its split over layers given the incident energy), then
each layer's shape given those energies, with one shape network and one layer critic shared by
all layers. Parameters and cost therefore grow with the cells of one layer, not of the whole
detector: CaloChallenge dataset 3 (45 layers x 900 cells) trains on 2 CPU cores. Nothing in it
depends on how the showers were made; the constants it fits are quantiles, means and widths of
the training data (:mod:`hepgan.models.layered.scales`).

Model space: cell energies as fractions of the incident energy (``EnergyNormalize``
preprocessing); the incident energy must be one of the conditions.
"""

from __future__ import annotations

import numpy as np
import torch

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models.layered.cells import LayerCells
from hepgan.models.layered.networks import LayeredCritic, LayeredGenerator
from hepgan.models.layered.scales import ShowerScales
from hepgan.models.wgan import WGANGP


class LayeredWGAN(WGANGP):
    family = "layered_wgan"
    needs_conditions = True

    def build_networks(self):
        config, sizes = self.config, self.config.layered
        if config.summary_critic is not None:
            raise ConfigError("model.summary_critic: family 'layered_wgan' has its own whole-shower critic; remove it")
        if self.geometry is None:
            raise ConfigError("model family 'layered_wgan' needs shower data on a known geometry")
        geometry = get_geometry(self.geometry)
        if self.sample_shape != (geometry.n_cells,):
            raise ConfigError(f"model family 'layered_wgan' works on the {geometry.n_cells} cells of geometry "
                              f"{geometry.name!r}; the preprocessing must keep them (got shape {self.sample_shape})")
        cells = LayerCells(geometry)
        self.scales = ShowerScales(cells.n_layers, cells.width, self.cond_dim)
        generator = LayeredGenerator(cells, self.scales, self.cond_dim, config.latent_dim, sizes.shape_latent,
                                     sizes.width, sizes.depth, sizes.embedding, sizes.cell_noise)
        self.latent_dim = generator.latent_dim
        critic = LayeredCritic(cells, self.cond_dim, sizes.width, sizes.depth, sizes.embedding, sizes.layer_features)
        return generator, {"critic": critic}

    @property
    def cells(self) -> LayerCells:
        return self.generator.cells

    def fit_data(self, x, cond, energies_mev=None):
        if energies_mev is None:
            raise ConfigError("model family 'layered_wgan' needs shower data with incident energies")
        rows = self.cells.split(x.float()).numpy()
        self.scales.fit(rows, cond.numpy(), np.asarray(energies_mev), self.cells.mask.numpy())

    def clean_view(self, x, cond):
        """The energy features (layers + 1) followed by every layer's cell features; all zero for
        a shower without energy (real and generated ones are equally often empty, as the generator
        draws them at the data's rate)."""
        n, energy = x.shape[0], self.scales.incident_energy(cond)
        rows = self.cells.split(x)
        layer_energy = rows.sum(dim=2)
        energies = self.scales.energy_features(layer_energy, energy)
        cells = self.scales.cell_features(rows, energy, self.cells.mask)
        view = torch.cat([energies, cells.reshape(n, -1)], dim=1)
        return view * (layer_energy.sum(dim=1, keepdim=True) > 0)


__all__ = ["LayeredWGAN"]
