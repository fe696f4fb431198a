"""The preprocessing stages: energy normalisation, log and logit scaling, per-layer fractions,
standardisation."""

from __future__ import annotations

import numpy as np

from hepgan.data.transforms.base import (
    _ZERO_ULPS,
    LOGIT_TOLERANCE,
    Transform,
    _config_float,
    register_transform,
)
from hepgan.errors import ConfigError, DataError
from hepgan.geometry import Geometry, get_geometry

@register_transform
class EnergyNormalize(Transform):
    """Cells divided by the incident energy (times ``scale``).

    Shower shapes scale roughly linearly with energy, so dividing it out leaves the generator
    a nearly energy-independent target.
    """

    needs_energies = True

    def __init__(self, scale: float = 1.0):
        self.scale = _config_float("EnergyNormalize", "scale", scale, lambda v: v > 0, "a finite number > 0")

    def _forward(self, x, energies):
        return x / energies * self.scale

    def _inverse(self, y, energies):
        return y * energies / self.scale

    def _config(self):
        return {"scale": self.scale}


@register_transform
class LogTransform(Transform):
    """``log(x + eps)``: compresses the many decades cell energies span.

    Meant for non-negative inputs such as energy-normalised cells (negative input is a
    DataError). The inverse ``exp(y) - eps`` is clipped at zero, so a generated value below
    ``log(eps)`` decodes to an empty cell rather than a negative energy. Round trips are exact
    to about ``1e-16 * (x + eps)``; decoded values below ``256 ulp * eps`` (6e-20 for the
    default) are that rounding noise around an exact zero and decode to 0, so empty cells stay
    empty and the fraction of hit cells survives a round trip.
    """

    def __init__(self, eps: float = 1e-6):
        self.eps = _config_float("LogTransform", "eps", eps, lambda v: v > 0, "a finite number > 0")
        self._zero_below = _ZERO_ULPS * self.eps

    def _forward(self, x, energies):
        negative = x < 0
        if negative.any():
            raise DataError(
                self._source,
                f"log transform needs non-negative input; {int(negative.sum())} value(s) are negative "
                f"(min {float(x.min())})",
            )
        return np.log(x + self.eps)

    def _inverse(self, y, energies):
        with np.errstate(over="ignore"):
            x = np.exp(y) - self.eps
        if not np.isfinite(x).all():
            raise DataError(self._source, f"inverse input overflows exp (max {float(y.max())})")
        return np.where(x < self._zero_below, 0.0, x)

    def _config(self):
        return {"eps": self.eps}


@register_transform
class LogitTransform(Transform):
    """``logit(alpha + (1 - 2 alpha) x)`` for x in [0, 1]: maps fractions onto the real line.

    ``alpha`` keeps 0 and 1 finite. Values up to 1e-9 outside [0, 1] are rounding error and
    clipped; further out is a DataError. The inverse clips to [0, 1]. Subtracting ``alpha`` on
    the way back limits the round trip to about ``1e-16 * alpha`` absolute, so fractions far
    below that lose relative precision, and decoded values below ``256 ulp * alpha`` are the
    rounding noise of an exact zero and decode to 0 (empty cells stay empty).
    """

    def __init__(self, alpha: float = 1e-6):
        self.alpha = _config_float("LogitTransform", "alpha", alpha, lambda v: 0 < v < 0.5, "in (0, 0.5)")
        self._zero_below = _ZERO_ULPS * self.alpha / (1 - 2 * self.alpha)

    def _forward(self, x, energies):
        outside = (x < -LOGIT_TOLERANCE) | (x > 1 + LOGIT_TOLERANCE)
        if outside.any():
            raise DataError(
                self._source,
                f"logit transform needs input in [0, 1]; {int(outside.sum())} value(s) are outside "
                f"(range {float(x.min())} to {float(x.max())})",
            )
        x = np.clip(x, 0.0, 1.0)
        # p and 1 - p each computed directly, so both ends keep full relative precision.
        scale = 1 - 2 * self.alpha
        return np.log(self.alpha + scale * x) - np.log(self.alpha + scale * (1.0 - x))

    def _inverse(self, y, energies):
        # Numerically stable sigmoid: exp of a non-positive argument never overflows.
        z = np.exp(-np.abs(y))
        p = np.where(y >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
        x = np.minimum((p - self.alpha) / (1 - 2 * self.alpha), 1.0)
        return np.where(x < self._zero_below, 0.0, x)

    def _config(self):
        return {"alpha": self.alpha}


@register_transform
class LayerFractions(Transform):
    """Shower -> [layer energy / E_inc per layer, each cell's fraction of its layer].

    Separates how much energy each layer gets from how it spreads within the layer, so a model
    can learn the two separately; output width is ``n_layers + n_cells``. An empty layer has all
    fractions zero. Exactly invertible (to rounding) for non-negative showers; negative cells
    make fractions meaningless and are a DataError.

    The inverse clips negative entries to zero and rescales each layer's fractions to sum to
    one, so a generated row decodes to a shower whose layer energies are exactly the decoded
    layer-energy columns (a layer whose fractions are all zero decodes empty). For rows made by
    ``forward`` both steps are no-ops.
    """

    needs_energies = True

    def __init__(self, geometry: str | Geometry):
        self.geometry = get_geometry(geometry)
        self._starts = [sl.start for sl in self.geometry.layer_slices]
        self._sizes = np.asarray(self.geometry.layer_sizes)

    @property
    def n_layers(self) -> int:
        return len(self.geometry.layers)

    @property
    def n_cells(self) -> int:
        return self.geometry.n_cells

    @property
    def input_dim(self) -> int:
        return self.n_cells

    @property
    def output_dim(self) -> int:
        return self.n_layers + self.n_cells

    def _within_layer(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(layer sums (N, L), cells divided by their layer's sum, zero for an empty layer)."""
        sums = np.add.reduceat(cells, self._starts, axis=1)
        per_cell = np.repeat(sums, self._sizes, axis=1)
        fractions = np.divide(cells, per_cell, out=np.zeros_like(cells), where=per_cell > 0)
        return sums, fractions

    def _forward(self, x, energies):
        negative = x < 0
        if negative.any():
            raise DataError(
                self._source,
                f"layer fractions need non-negative cells; {int(negative.sum())} value(s) are negative "
                f"(min {float(x.min())})",
            )
        layer_energy, fractions = self._within_layer(x)
        return np.concatenate([layer_energy / energies, fractions], axis=1)

    def _inverse(self, y, energies):
        y = np.maximum(y, 0.0)
        layer_fraction = y[:, : self.n_layers]
        _, fractions = self._within_layer(y[:, self.n_layers :])
        return fractions * np.repeat(layer_fraction, self._sizes, axis=1) * energies

    def _config(self):
        return {"geometry": self.geometry.name}

    def __repr__(self) -> str:
        return f"LayerFractions({self.geometry.name!r})"


@register_transform
class Standardize(Transform):
    """Per-column ``(x - mean) / std`` fitted on training data, so every input is O(1).

    ``std`` is floored at ``min_std``: columns that are constant over the data set (cells that
    are never hit are the usual case) would otherwise divide by zero. The floored value is what
    is stored, so the inverse stays exact.
    """

    _state_keys = ("mean", "std")

    def __init__(self, min_std: float = 1e-8):
        self.min_std = _config_float("Standardize", "min_std", min_std, lambda v: v > 0, "a finite number > 0")
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    @property
    def input_dim(self) -> int | None:
        return None if self.mean is None else int(self.mean.shape[0])

    @property
    def output_dim(self) -> int | None:
        return self.input_dim

    def fit(self, showers, energies=None):
        # Refitting may change the width, so check without the previous fit's column count.
        x, _ = self._check(showers, energies, "fit input", None)
        if x.shape[0] == 0:
            raise DataError(self._source, "cannot fit on 0 rows")
        self.mean = x.mean(axis=0)
        self.std = np.maximum(x.std(axis=0), self.min_std)
        return self

    def _forward(self, x, energies):
        return (x - self.mean) / self.std

    def _inverse(self, y, energies):
        return y * self.std + self.mean

    def _config(self):
        return {"min_std": self.min_std}

    def _state(self):
        if self.mean is None:
            return {"mean": None, "std": None}
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def _load_state(self, state):
        mean, std = state.get("mean"), state.get("std")
        if mean is None and std is None:
            self.mean = self.std = None
            return
        try:
            mean = np.asarray(mean, dtype=np.float64)
            std = np.asarray(std, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError("transform Standardize: mean and std must be lists of numbers") from None
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ConfigError(
                f"transform Standardize: mean and std must be lists of one length, got {mean.shape} and {std.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ConfigError("transform Standardize: mean and std must be finite and std > 0")
        self.mean, self.std = mean, std


__all__ = ["EnergyNormalize", "LayerFractions", "LogTransform", "LogitTransform", "Standardize"]
