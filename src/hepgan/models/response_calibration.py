"""A response calibration for a trained shower generator: each shower's cells scaled by one factor
so that the generated E_tot / E has the training data's distribution at every training energy (a
monotone map of the generated quantiles onto the data's), interpolated linearly in the energy
condition in between.

Why: the generator that is evaluated and shipped is the weight average (EMA) of the trained one,
and averaging weights narrows the response (the quickstart's by 1-8 % at 1-32 GeV against the
trained weights; docs/flagship.md, "where the narrow widths come from"). And at 65-262 GeV the
generated response is a wider Gaussian core where the data have a narrow core and a low tail,
which a map of the mean and width alone cannot undo. One factor per shower leaves every layer
fraction and cell share as generated, so the shower shapes the critics judged stay; only the
total moves, and a monotone map keeps each shower's rank in the response, so the correlations of
the total with the shape stay too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

MAX_POINTS = 32  # energies (or energy bins) the calibration keeps
# the knots' quantiles, as normal scores: 0.023 % ... 99.977 %, so the map reaches into the low tail
# that sets the width at high energy (at 262 GeV the lowest 0.13 % of the showers set 6-9 % of it)
SCORES = torch.linspace(-3.5, 3.5, 29, dtype=torch.float64)
LEVELS = 0.5 * (1.0 + torch.erf(SCORES / math.sqrt(2.0)))
MIN_SHOWERS = 50  # fewer data or generated showers at a point: that point stays the identity
MIN_FACTOR = 0.05  # a calibrated shower keeps at least this share of its generated energy


class ResponseCalibration(nn.Module):
    """E_tot / E -> a monotone piecewise-linear map per calibration point (generated quantiles onto
    the data's at ``LEVELS``, beyond the outer knots the ratio of the data's width to the
    generated), mixed linearly in the energy condition (the first condition column) between up to
    ``MAX_POINTS`` points, the outer points' maps beyond them. The identity until :meth:`fit`;
    written with ONNX-exportable operations only."""

    def __init__(self):
        super().__init__()
        identity = torch.linspace(0.0, 1.0, len(LEVELS)).expand(MAX_POINTS, -1)
        self.register_buffer("centres", torch.arange(MAX_POINTS, dtype=torch.float32))
        self.register_buffer("knots_in", identity.clone())  # (points, knots) generated quantiles
        self.register_buffer("knots_out", identity.clone())  # (points, knots) the data's
        self.register_buffer("tail_slope", torch.ones(MAX_POINTS))

    def _maps(self, response: torch.Tensor) -> torch.Tensor:
        """(N,) responses -> (N, points): every point's map applied, as its value at the first knot
        plus, at each knot passed, the change of slope times the distance past it."""
        x, y, tail = self.knots_in, self.knots_out, self.tail_slope[:, None]
        slopes = (y[:, 1:] - y[:, :-1]) / (x[:, 1:] - x[:, :-1])
        bends = torch.cat([slopes, tail], dim=1) - torch.cat([tail, slopes], dim=1)
        past = torch.relu(response[:, None, None] - x)
        return y[:, 0] + self.tail_slope * (response[:, None] - x[:, 0]) + (bends * past).sum(dim=2)

    def _at(self, values: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """(..., points) ``values`` interpolated at the (N,) energy conditions: the first point's
        value plus each segment's rise times how far along it the energy lies (0 before, 1 past)."""
        left, right = self.centres[:-1], self.centres[1:]
        along = ((energy[:, None] - left) / (right - left)).clamp(0.0, 1.0)
        return values[..., 0] + (along * (values[..., 1:] - values[..., :-1])).sum(dim=-1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(N, cells) energy-normalised cells, each shower scaled by its calibration factor."""
        response = x.sum(dim=1)
        calibrated = torch.maximum(self._at(self._maps(response), cond[:, 0]), MIN_FACTOR * response)
        return x * (calibrated / response.clamp_min(1e-12))[:, None]

    @torch.no_grad()
    def fit(self, generate: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cond: torch.Tensor,
            max_showers: int = 100_000, seed: int = 0) -> dict[float, float]:
        """Fit to the (N, cells) energy-normalised training showers ``x`` and their conditions:
        ``generate(cond)`` must return showers like ``x`` for those conditions, through this
        module. It is reset to the identity first, so refitting a calibrated generator gives the
        same map. The points are the distinct energies when there are at most ``MAX_POINTS`` of
        them (the usual fixed-energy samples), else that many quantile bins. Returns {energy
        condition: the data's width / the generated width}."""
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
        identity = torch.linspace(0.0, 1.0, len(LEVELS), dtype=torch.float64)
        knots_in, knots_out = identity.repeat(len(points), 1), identity.repeat(len(points), 1)
        tail = torch.ones(len(points), dtype=torch.float64)
        self._store(points, knots_in, knots_out, tail)
        data, made = x.double().sum(dim=1), generate(cond).double().sum(dim=1)
        for k in range(len(points)):
            wanted, here = data[nearest == k], made[nearest == k]
            if min(len(wanted), len(here)) < MIN_SHOWERS or here.std() == 0:
                continue
            # generated knots strictly increasing, so no segment is infinitely steep
            steps = torch.diff(torch.quantile(here, LEVELS)).clamp_min(1e-4 * float(here.std()))
            knots_in[k] = torch.quantile(here, LEVELS[0]) + torch.cat([steps.new_zeros(1), steps.cumsum(0)])
            knots_out[k] = torch.quantile(wanted, LEVELS)
            tail[k] = wanted.std() / here.std()
        self._store(points, knots_in, knots_out, tail)
        return {float(p): float(s) for p, s in zip(points, tail)}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """A checkpoint of the first, affine calibration (r -> scale r + shift per point) loads as
        the same map: straight lines through the identity's knots."""
        if prefix + "scale" in state_dict and prefix + "knots_in" not in state_dict:
            scale, shift = state_dict.pop(prefix + "scale"), state_dict.pop(prefix + "shift")
            knots = torch.linspace(0.0, 1.0, len(LEVELS)).expand(len(scale), -1)
            state_dict[prefix + "knots_in"] = knots.clone()
            state_dict[prefix + "knots_out"] = scale[:, None] * knots + shift[:, None]
            state_dict[prefix + "tail_slope"] = scale.clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _store(self, points: torch.Tensor, knots_in: torch.Tensor, knots_out: torch.Tensor,
               tail: torch.Tensor) -> None:
        """Fill the buffers: the unused points continue past the last one, each segment 1 wide,
        holding its map (segments that change nothing add nothing)."""
        unused = MAX_POINTS - len(points)
        spacing = torch.arange(1, unused + 1, dtype=torch.float64)
        self.centres.copy_(torch.cat([points, points[-1] + spacing]).float())
        self.knots_in.copy_(torch.cat([knots_in, knots_in[-1:].expand(unused, -1)]).float())
        self.knots_out.copy_(torch.cat([knots_out, knots_out[-1:].expand(unused, -1)]).float())
        self.tail_slope.copy_(torch.cat([tail, tail[-1:].expand(unused)]).float())


__all__ = ["ResponseCalibration"]
