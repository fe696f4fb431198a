"""A response calibration for a trained shower generator: each shower's cells scaled by one factor
so that the generated E_tot / E has the training data's mean and relative width at every training
energy, interpolated linearly in the energy condition in between.

Why: the generator that is evaluated and shipped is the weight average (EMA) of the trained one,
and averaging weights narrows the response (the quickstart's by 1-8 % at 1-32 GeV against the
trained weights; docs/flagship.md, "where the narrow widths come from"). One factor per shower
leaves every layer fraction and cell share as generated, so the shower shapes the critics judged
stay; only the total moves.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

MAX_POINTS = 32  # energies (or energy bins) the calibration keeps
ROUNDS = 3  # fit, regenerate, refit: the fluctuations after the head make one round inexact
MIN_FACTOR = 0.05  # a calibrated shower keeps at least this share of its generated energy


class ResponseCalibration(nn.Module):
    """E_tot / E -> shift(E) + scale(E) x E_tot / E, piecewise linear in the energy condition
    (the first condition column) between up to ``MAX_POINTS`` calibration points, flat beyond the
    outer ones. The identity until :meth:`fit`; written with ONNX-exportable operations only."""

    def __init__(self):
        super().__init__()
        self.register_buffer("centres", torch.arange(MAX_POINTS, dtype=torch.float32))
        self.register_buffer("scale", torch.ones(MAX_POINTS))
        self.register_buffer("shift", torch.zeros(MAX_POINTS))

    def _at(self, values: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """(N,) ``values`` interpolated at the (N,) energy conditions: value_0 plus each segment's
        rise times how far along it the energy lies (0 before it, 1 past it)."""
        left, right = self.centres[:-1], self.centres[1:]
        along = ((energy[:, None] - left) / (right - left)).clamp(0.0, 1.0)
        return values[0] + (along * (values[1:] - values[:-1])).sum(dim=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(N, cells) energy-normalised cells, each shower scaled by its calibration factor."""
        energy = cond[:, 0]
        response = x.sum(dim=1)
        calibrated = self._at(self.scale, energy) * response + self._at(self.shift, energy)
        calibrated = torch.maximum(calibrated, MIN_FACTOR * response)
        return x * (calibrated / response.clamp_min(1e-12))[:, None]

    @torch.no_grad()
    def fit(self, generate: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cond: torch.Tensor,
            max_showers: int = 50_000, seed: int = 0) -> dict[float, float]:
        """Fit to the (N, cells) energy-normalised training showers ``x`` and their conditions:
        ``generate(cond)`` must return showers like ``x`` for those conditions, through this
        module. Starts from the identity, so refitting a calibrated generator gives the same map.
        The points are the distinct energies when there are at most ``MAX_POINTS`` of them (the
        usual fixed-energy samples), else that many quantile bins. Returns {energy condition:
        scale}."""
        if len(x) < 2:
            raise ValueError(f"a response calibration needs training showers, got {len(x)}")
        rng = torch.Generator().manual_seed(seed)
        if len(x) > max_showers:
            rows = torch.randperm(len(x), generator=rng)[:max_showers]
            x, cond = x[rows], cond[rows]
        energy = cond[:, 0].double()
        points = torch.unique(energy)
        if len(points) > MAX_POINTS:
            points = torch.unique(torch.quantile(energy, (torch.arange(MAX_POINTS) + 0.5).double() / MAX_POINTS))
        nearest = (energy[:, None] - points[None, :]).abs().argmin(dim=1)
        data = x.double().sum(dim=1)
        target = [(data[nearest == k].mean(), data[nearest == k].std()) if (nearest == k).sum() >= 2 else None
                  for k in range(len(points))]
        scale, shift = torch.ones(len(points), dtype=torch.float64), torch.zeros(len(points), dtype=torch.float64)
        self._store(points, scale, shift)
        for _ in range(ROUNDS):
            made = generate(cond).double().sum(dim=1)
            for k, moments in enumerate(target):
                here = made[nearest == k]
                if moments is None or here.std() == 0:
                    continue
                mean, width = moments
                # compose: new = width / s (current - m) + mean, with current = scale r + shift
                factor = width / here.std()
                scale[k], shift[k] = factor * scale[k], factor * (shift[k] - here.mean()) + mean
            self._store(points, scale, shift)
        return {float(p): float(s) for p, s in zip(points, scale)}

    def _store(self, points: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Fill the buffers: the unused points continue past the last one, each segment 1 wide,
        holding its values (segments that rise by 0 add nothing)."""
        n = len(points)
        spacing = torch.arange(1, MAX_POINTS - n + 1, dtype=torch.float64)
        self.centres.copy_(torch.cat([points, points[-1] + spacing]).float())
        self.scale.copy_(torch.cat([scale, scale[-1].expand(MAX_POINTS - n)]).float())
        self.shift.copy_(torch.cat([shift, shift[-1].expand(MAX_POINTS - n)]).float())


__all__ = ["ResponseCalibration"]
