"""Per-energy monotone quantile maps, the machinery behind the calibrations fitted after training
(:mod:`hepgan.models.calo.response_calibration`, :mod:`hepgan.models.calo.layer_calibration`).

At each calibration point (a training energy, or a quantile bin of a continuous spectrum) a
quantity's generated quantiles are mapped piecewise-linearly onto the training data's; beyond the
outer knots the map continues with the ratio of the data's width to the generated. The maps of
neighbouring points are mixed linearly in the energy condition, and the outer points' maps hold
beyond them. A map is monotone, so every shower keeps its rank, and it is written with
ONNX-exportable operations only (relu sums, no searches), so a calibrated generator exports.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MAX_POINTS = 32  # energies (or energy bins) a calibration keeps
# the knots' quantiles, as normal scores: 0.023 % ... 99.977 %, so a map reaches into the low tail
# that sets the response width at high energy (at 262 GeV the lowest 0.13 % of the showers set 6-9 % of it)
SCORES = torch.linspace(-3.5, 3.5, 29, dtype=torch.float64)
LEVELS = 0.5 * (1.0 + torch.erf(SCORES / math.sqrt(2.0)))
MIN_SHOWERS = 50  # fewer data or generated showers at a point: that point's map stays the identity


class QuantileMaps(nn.Module):
    """One monotone map per calibration point and channel (``channels`` () for a single quantity,
    (L,) for one per layer), the identity until :meth:`fit_maps`. Buffers: ``centres`` (points,),
    ``knots_in`` / ``knots_out`` (*channels, points, knots), ``tail_slope`` (*channels, points)."""

    def __init__(self, channels: tuple[int, ...] = ()):
        super().__init__()
        identity = torch.linspace(0.0, 1.0, len(LEVELS)).expand(*channels, MAX_POINTS, -1)
        self.register_buffer("centres", torch.arange(MAX_POINTS, dtype=torch.float32))
        self.register_buffer("knots_in", identity.clone())
        self.register_buffer("knots_out", identity.clone())
        self.register_buffer("tail_slope", torch.ones(*channels, MAX_POINTS))

    def mapped(self, values: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """(N, *channels) values through their maps, mixed at the (N,) energy conditions. In float64:
        the knots of a rarely hit layer can lie 1e-8 apart, and the sum of slope changes (up to 1e5)
        times distances then cancels to the map's value far below float32's resolution."""
        dtype = values.dtype
        values, energy = values.double(), energy.double()
        x, y, tail = self.knots_in.double(), self.knots_out.double(), self.tail_slope.double()
        slopes = (y[..., 1:] - y[..., :-1]) / (x[..., 1:] - x[..., :-1])
        bends = torch.cat([slopes, tail[..., None]], dim=-1) - torch.cat([tail[..., None], slopes], dim=-1)
        # every point's map: its value at the first knot plus, at each knot passed, the change of
        # slope times the distance past it -> (N, *channels, points)
        past = torch.relu(values[..., None, None] - x)
        at_points = y[..., 0] + tail * (values[..., None] - x[..., 0]) + (bends * past).sum(dim=-1)
        # mixed in the energy: the first point's value plus each segment's rise times how far
        # along it the energy lies (0 before, 1 past)
        centres = self.centres.double()
        left, right = centres[:-1], centres[1:]
        along = ((energy[:, None] - left) / (right - left)).clamp(0.0, 1.0)
        for _ in range(values.dim() - 1):  # (N, 1, ..., points - 1), not a reshape: ONNX keeps N free
            along = along.unsqueeze(1)
        return (at_points[..., 0] + (along * (at_points[..., 1:] - at_points[..., :-1])).sum(dim=-1)).to(dtype)

    def reset(self) -> None:
        """Back to the identity (fitting starts here, so refitting gives the same maps)."""
        self.knots_in.copy_(torch.linspace(0.0, 1.0, len(LEVELS)).expand_as(self.knots_in))
        self.knots_out.copy_(self.knots_in)
        self.tail_slope.fill_(1.0)

    @staticmethod
    def training_rows(x: torch.Tensor, cond: torch.Tensor, max_showers: int, seed: int,
                      what: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The training showers and conditions to fit on: all, or ``max_showers`` drawn at random."""
        if len(x) < 2:
            raise ValueError(f"a {what} needs training showers, got {len(x)}")
        if len(x) > max_showers:
            rows = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:max_showers]
            x, cond = x[rows], cond[rows]
        return x, cond

    @torch.no_grad()
    def fit_maps(self, wanted: torch.Tensor, made: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """Map the (N, *channels) generated ``made`` onto the data's ``wanted`` (rows at the same
        (N,) energy conditions). The points are the distinct energies when there are at most
        ``MAX_POINTS`` of them (the usual fixed-energy samples), else that many quantile bins.
        Returns the points (P,); the fitted width ratios are in ``tail_slope``."""
        energy = energy.double()
        points = torch.unique(energy)
        if len(points) > MAX_POINTS:
            points = torch.unique(torch.quantile(energy, (torch.arange(MAX_POINTS) + 0.5).double() / MAX_POINTS))
        nearest = (energy[:, None] - points[None, :]).abs().argmin(dim=1)
        channels = self.tail_slope.shape[:-1]
        identity = torch.linspace(0.0, 1.0, len(LEVELS), dtype=torch.float64)
        knots_in = identity.expand(*channels, len(points), -1).clone()
        knots_out, tail = knots_in.clone(), torch.ones(*channels, len(points), dtype=torch.float64)
        wanted, made = wanted.double().reshape(len(wanted), -1), made.double().reshape(len(made), -1)
        flat_in, flat_out = (k.view(-1, len(points), len(LEVELS)) for k in (knots_in, knots_out))
        flat_tail = tail.view(-1, len(points))
        for k in range(len(points)):
            for c in range(wanted.shape[1]):
                target, here = wanted[nearest == k, c], made[nearest == k, c]
                if min(len(target), len(here)) < MIN_SHOWERS or here.std() == 0:
                    continue
                # generated knots strictly increasing, so no segment is infinitely steep
                steps = torch.diff(torch.quantile(here, LEVELS)).clamp_min(1e-4 * float(here.std()))
                flat_in[c, k] = torch.quantile(here, LEVELS[0]) + torch.cat([steps.new_zeros(1), steps.cumsum(0)])
                flat_out[c, k] = torch.quantile(target, LEVELS)
                flat_tail[c, k] = target.std() / here.std()
        self._store(points, knots_in, knots_out, tail)
        return points

    def _store(self, points: torch.Tensor, knots_in: torch.Tensor, knots_out: torch.Tensor,
               tail: torch.Tensor) -> None:
        """Fill the buffers: the unused points continue past the last one, each segment 1 wide,
        holding its map (segments that change nothing add nothing)."""
        unused = MAX_POINTS - len(points)
        spacing = torch.arange(1, unused + 1, dtype=torch.float64)
        self.centres.copy_(torch.cat([points, points[-1] + spacing]).float())
        for buffer, fitted in ((self.knots_in, knots_in), (self.knots_out, knots_out)):
            buffer.copy_(torch.cat([fitted, fitted[..., -1:, :].expand(*fitted.shape[:-2], unused, -1)], dim=-2).float())
        self.tail_slope.copy_(torch.cat([tail, tail[..., -1:].expand(*tail.shape[:-1], unused)], dim=-1).float())


__all__ = ["LEVELS", "MAX_POINTS", "MIN_SHOWERS", "QuantileMaps", "SCORES"]
