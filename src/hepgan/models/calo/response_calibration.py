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

from collections.abc import Callable

import torch

from hepgan.models.calo.quantile_map import LEVELS, MAX_POINTS, QuantileMaps

MIN_FACTOR = 0.05  # a calibrated shower keeps at least this share of its generated energy


class ResponseCalibration(QuantileMaps):
    """E_tot / E -> a monotone piecewise-linear map per calibration point (generated quantiles onto
    the data's, beyond the outer knots the ratio of the data's width to the generated), mixed
    linearly in the energy condition (the first condition column) between up to ``MAX_POINTS``
    points, the outer points' maps beyond them. The identity until :meth:`fit`."""

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(N, cells) energy-normalised cells, each shower scaled by its calibration factor."""
        response = x.sum(dim=1)
        calibrated = torch.maximum(self.mapped(response, cond[:, 0]), MIN_FACTOR * response)
        return x * (calibrated / response.clamp_min(1e-12))[:, None]

    @torch.no_grad()
    def fit(self, generate: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cond: torch.Tensor,
            max_showers: int = 100_000, seed: int = 0) -> dict[float, float]:
        """Fit to the (N, cells) energy-normalised training showers ``x`` and their conditions:
        ``generate(cond)`` must return showers like ``x`` for those conditions, through this
        module. It is reset to the identity first, so refitting a calibrated generator gives the
        same map. Returns {energy condition: the data's width / the generated width}."""
        x, cond = self.training_rows(x, cond, max_showers, seed, "response calibration")
        self.reset()
        points = self.fit_maps(x.sum(dim=1), generate(cond).sum(dim=1), cond[:, 0])
        return {float(p): float(s) for p, s in zip(points, self.tail_slope)}

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


__all__ = ["MAX_POINTS", "ResponseCalibration"]
