"""A layer calibration for a trained shower generator: each layer's cells scaled by one factor per
shower so that the generated layer fractions E_layer / E_tot have the training data's distribution
at every training energy (a monotone map of each fraction's generated quantiles onto the data's,
the fractions then renormalised to sum to one), interpolated linearly in the energy condition in
between. E_tot and every cell's share of its layer stay as generated.

Why: the generated shower-to-shower spread of the layer fractions is too small, as the response's
was (the weight average narrows it): in the quickstart the back fraction's variance came out 0.72
of the reference's and the presampler's 0.70-0.77, and the covariance term carries 0.38 of the
0.40 FPD (docs/flagship.md, "what it would take"). Fitted after training, before the response
calibration, which then scales whole showers and leaves these fractions alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from hepgan.models.calo.quantile_map import QuantileMaps

MIN_FACTOR = 0.05  # a calibrated layer keeps at least this share of its generated fraction


class LayerCalibration(QuantileMaps):
    """Layer fractions -> one monotone map per calibration point and layer (see
    :class:`~hepgan.models.calo.quantile_map.QuantileMaps`). A layer the generator left empty stays
    empty and an occupied one stays occupied (the map's tails cannot empty it). The identity
    until :meth:`fit`."""

    def __init__(self, layer_sizes: list[int]):
        if len(layer_sizes) < 2 or any(n < 1 for n in layer_sizes):
            raise ValueError(f"a layer calibration needs two or more non-empty layers, got sizes {layer_sizes}")
        super().__init__(channels=(len(layer_sizes),))
        self.layer_sizes = [int(n) for n in layer_sizes]

    def fractions(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(N, cells) -> (the per-layer cell blocks, (N, layers) layer fractions of E_tot)."""
        parts = list(x.split(self.layer_sizes, dim=1))
        energies = torch.stack([p.sum(dim=1) for p in parts], dim=1)
        return parts, energies / energies.sum(dim=1, keepdim=True).clamp_min(1e-12)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(N, cells) energy-normalised cells, each layer scaled by its shower's factor."""
        parts, fraction = self.fractions(x)
        occupied = fraction > 0
        mapped = torch.maximum(self.mapped(fraction, cond[:, 0]), MIN_FACTOR * fraction)
        wanted = torch.where(occupied, mapped, torch.zeros_like(fraction))
        wanted = wanted / wanted.sum(dim=1, keepdim=True).clamp_min(1e-12)  # an empty shower stays empty
        factor = torch.where(occupied, wanted / fraction.clamp_min(1e-12), torch.ones_like(fraction))
        return torch.cat([p * factor[:, i : i + 1] for i, p in enumerate(parts)], dim=1)

    @torch.no_grad()
    def fit(self, generate: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cond: torch.Tensor,
            max_showers: int = 100_000, seed: int = 0) -> dict[float, list[float]]:
        """Fit to the (N, cells) training showers ``x`` and their conditions: ``generate(cond)``
        must return showers like ``x`` for those conditions, through this module. It is reset to
        the identity first, so refitting gives the same maps. Returns {energy condition: per
        layer, the data's fraction width / the generated}."""
        if x.shape[1] != sum(self.layer_sizes):
            raise ValueError(f"showers have {x.shape[1]} cells; the layers {self.layer_sizes} need "
                             f"{sum(self.layer_sizes)}")
        x, cond = self.training_rows(x, cond, max_showers, seed, "layer calibration")
        self.reset()
        points = self.fit_maps(self.fractions(x)[1], self.fractions(generate(cond))[1], cond[:, 0])
        return {float(p): [float(s) for s in self.tail_slope[:, k]] for k, p in enumerate(points)}


__all__ = ["LayerCalibration"]
