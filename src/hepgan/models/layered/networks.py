"""The layered family's generator and critic.

Generator (one forward pass): an energy network turns the shower noise and the conditions into
the deposited energy and its split over the layers (the deposited energy standardised at the
incident energy is the first noise component plus the network's correction: a generator that
starts from the mean alone has to learn the spread, and in WGAN-GP training it kept it 2-3x
too narrow on dataset 2); one shape network, shared by all layers and
told which layer it draws by a learned embedding, turns the shower noise, the layer's own noise,
the conditions and every layer's energy into that layer's cell shares (a softmax over its cells).
With cell noise the shape network also gives each cell a spread, and the cell's logit moves by
that spread times the cell's own latent value: a few shared noise values cannot draw the
independent, sparse deposits of a shower's far tail; without it the tails come out smooth and
the showers too narrow.
Cells are energy x share; cells below the layer's threshold are emptied and their energy given to
the cells kept.

Critic: one network, shared by all layers, scores each layer's cells (with its energy and
embedding) and summarises it in a few features; a whole-shower network scores the energies and
the features of all layers together, so correlations between layers are seen too. The critic's
score is the sum of the mean layer score and the whole-shower score.
"""

from __future__ import annotations

import torch
from torch import nn

from hepgan.errors import ConfigError
from hepgan.models.layered.cells import LayerCells
from hepgan.models.layered.scales import ShowerScales

HEAD_SCALE = 0.1  # the generator starts near the data's mean shower
NOISE_START = -2.25  # softplus(-2.25) = 0.1: cell fluctuations start small
NEG = -1.0e4  # logit of a padding slot (finite, so exported graphs stay free of inf arithmetic)


def mlp(n_in: int, width: int, depth: int, n_out: int, activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), activation()]
    layers.append(nn.Linear(width if depth else n_in, n_out))
    return nn.Sequential(*layers)


class LayeredGenerator(nn.Module):
    def __init__(self, cells: LayerCells, scales: ShowerScales, cond_dim: int, shower_latent: int, shape_latent: int,
                 width: int, depth: int, embedding: int, cell_noise: bool = False):
        super().__init__()
        self.cells, self.scales = cells, scales
        self.cell_noise = cell_noise
        n_layers = cells.n_layers
        self.shower_latent, self.shape_latent = shower_latent, shape_latent
        self.energy_net = mlp(shower_latent + cond_dim, width, depth, n_layers + 1, nn.SiLU)
        self.embedding = nn.Parameter(torch.randn(n_layers, embedding))
        n_in = shower_latent + shape_latent + cond_dim + embedding + (n_layers + 1) + 1
        self.shape_net = mlp(n_in, width, depth, cells.width * (2 if cell_noise else 1), nn.SiLU)
        for net in (self.energy_net, self.shape_net):
            net[-1].weight.data.mul_(HEAD_SCALE)
            net[-1].bias.data.zero_()
        if cell_noise:
            self.shape_net[-1].bias.data[cells.width :] = NOISE_START

    @property
    def latent_dim(self) -> int:
        cell_noise = self.cells.n_layers * self.cells.width if self.cell_noise else 0
        return self.shower_latent + self.cells.n_layers * self.shape_latent + cell_noise

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        n, n_layers, s = z.shape[0], self.cells.n_layers, self.scales
        z_shower = z[:, : self.shower_latent]
        end = self.shower_latent + n_layers * self.shape_latent
        z_layers = z[:, self.shower_latent : end].reshape(n, n_layers, self.shape_latent)
        energy = s.incident_energy(cond)
        out = self.energy_net(torch.cat([z_shower, cond], dim=1))
        mean, std = s.energy_moments(energy)
        noise, holds = z_shower[:, :1], None
        if bool(s.empty_fraction.max() > 0):
            if torch.jit.is_tracing():
                raise ConfigError("this generator draws showers without energy, which needs the inverse of the "
                                  "normal distribution; ONNX has none: export with --format lwtnn (hepgan's NumPy "
                                  "runtime and the C++ header in examples/cpp run it)")
            noise, holds = split_empty(noise, s.empty_probability(energy))
        # standardised ln(E_dep / E): a noise component plus the network's correction, so the
        # deposited energy starts with the data's spread at every incident energy
        total = torch.exp(mean[:, -1:] + std[:, -1:] * (noise + out[:, :1]))  # E_dep / E
        if holds is not None:
            total = total * holds
        layer_energy = total * torch.softmax(s.layer_log_share + out[:, 1:], dim=1)  # (N, layers)
        context = s.energy_features(layer_energy, energy)  # (N, layers + 1)
        per_layer = torch.cat([
            z_shower[:, None].expand(n, n_layers, self.shower_latent),
            z_layers,
            cond[:, None].expand(n, n_layers, cond.shape[1]),
            self.embedding[None].expand(n, n_layers, self.embedding.shape[1]),
            context[:, None].expand(n, n_layers, n_layers + 1),
            context[:, :n_layers, None],
        ], dim=2)
        head = self.shape_net(per_layer)
        logits = s.cell_log_share + head[:, :, : self.cells.width]
        if self.cell_noise:
            eps = z[:, end:].reshape(n, n_layers, self.cells.width)
            logits = logits + softplus(head[:, :, self.cells.width :]) * eps
        shares = torch.softmax(logits.masked_fill(~self.cells.mask, NEG), dim=2)
        rows = layer_energy[:, :, None] * shares
        rows = rows + (keep_above_threshold(rows, energy, s.threshold) - rows).detach()  # gradient as if all were kept
        return self.cells.join(rows)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """ln(1 + e^x), written as the exported runtimes compute it."""
    return x.clamp_min(0) + torch.log1p(torch.exp(-x.abs()))


def split_empty(noise: torch.Tensor, p_empty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The showers whose Gaussian noise falls in its lowest ``p_empty`` quantile leave no energy;
    the others get the noise mapped back onto a whole Gaussian (1 - Phi(z') = (1 - Phi(z)) /
    (1 - p)), so the showers that hold energy keep the spread the data's do. Returns (z', holds)
    with holds 1.0 or 0.0. In float64: Phi of a noise value near +6 is 1 in float32."""
    upper = torch.special.ndtr(-noise.double())
    p = p_empty.double()
    holds = upper <= 1.0 - p
    ratio = (upper / (1.0 - p)).clamp(min=1e-300, max=1.0 - 1e-16)
    return (-torch.special.ndtri(ratio)).to(noise.dtype), holds.to(noise.dtype)


def keep_above_threshold(rows: torch.Tensor, energy: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Empty the cells below their layer's threshold and give their energy to the cells kept, so
    that each layer keeps the energy the energy network chose. A layer whose cells all fall below
    keeps its largest cell, unless its whole energy is below the threshold."""
    cells = rows * energy[:, None, None]  # MeV
    layer = cells.sum(dim=2, keepdim=True)
    keep = (cells >= threshold[:, None]) | ((cells == cells.amax(dim=2, keepdim=True)) & (layer >= threshold[:, None]))
    kept = rows * keep
    return kept * (rows.sum(dim=2, keepdim=True) / kept.sum(dim=2, keepdim=True).clamp_min(1e-30))


class LayeredCritic(nn.Module):
    def __init__(self, cells: LayerCells, cond_dim: int, width: int, depth: int, embedding: int, features: int):
        super().__init__()
        self.cells = cells
        n_layers = cells.n_layers
        self.features = features
        self.embedding = nn.Parameter(torch.randn(n_layers, embedding))
        self.layer_net = mlp(cells.width + embedding + cond_dim + 1, width, depth, features + 1,
                             lambda: nn.LeakyReLU(0.2))
        self.shower_net = mlp(cond_dim + n_layers + 1 + n_layers * features, width, depth, 1,
                              lambda: nn.LeakyReLU(0.2))

    def forward(self, view: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``view``: (N, layers + 1 + layers x width), the energy features then the cell features."""
        n, n_layers, width = view.shape[0], self.cells.n_layers, self.cells.width
        energies = view[:, : n_layers + 1]
        rows = view[:, n_layers + 1 :].reshape(n, n_layers, width)
        per_layer = torch.cat([
            rows,
            self.embedding[None].expand(n, n_layers, self.embedding.shape[1]),
            cond[:, None].expand(n, n_layers, cond.shape[1]),
            energies[:, :n_layers, None],
        ], dim=2)
        out = self.layer_net(per_layer)
        shower = self.shower_net(torch.cat([cond, energies, out[:, :, 1:].reshape(n, -1)], dim=1))
        return out[:, :, :1].mean(dim=1) + shower


__all__ = ["LayeredCritic", "LayeredGenerator", "keep_above_threshold", "mlp", "split_empty"]
