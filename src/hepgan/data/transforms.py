"""Invertible preprocessing that a trained model carries with it.

A generator learns in a transformed space (energy-normalised, log or logit scaled,
standardised); to turn its samples back into showers in MeV the exact same transform, with
its fitted state, must travel with the weights. So every transform here

* is invertible: ``inverse(forward(x, e), e)`` gives ``x`` back to float64 rounding;
* serialises to a plain JSON-able dict (``to_dict`` / :func:`transform_from_dict`, or
  :func:`transforms_to_json` / :func:`transforms_from_json`), fitted state included;
* checks its input and raises :class:`~hepgan.errors.DataError` with source
  ``"<transform NAME>"`` naming what is wrong, instead of silently producing NaNs.

Arrays are (N, columns); incident energies are (N, 1) or (N,) in MeV and may be ``None`` for
transforms that do not use them. Computation and output are always float64 whatever the input
dtype: a float32 round trip would only be good to ~1e-7, and a model casts on its own side.
Inverses also accept values no forward pass produced (a generator's output) and map them back
to physical showers: they clip to the valid range instead of failing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from hepgan.data.files import check_finite_rows
from hepgan.errors import ConfigError, DataError, unknown_name_error
from hepgan.geometry import Geometry, get_geometry

_REGISTRY: dict[str, type["Transform"]] = {}

# Values this far outside [0, 1] are treated as rounding error by LogitTransform and clipped.
LOGIT_TOLERANCE = 1e-9
# Log and logit inverses resolve x only to ~1e-16 of their offset (eps, alpha); decoded values
# below this many float64 ulps of it are the rounding noise of an exact zero and decode to 0.
_ZERO_ULPS = 256 * float(np.finfo(np.float64).eps)


def register_transform(cls: type["Transform"]) -> type["Transform"]:
    """Class decorator: make ``cls`` loadable by :func:`transform_from_dict` under its class name."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ConfigError(f"transform {name!r} is already registered")
    cls.type_name = name
    _REGISTRY[name] = cls
    return cls


def list_transforms() -> list[str]:
    return sorted(_REGISTRY)


def _config_float(owner: str, key: str, value: Any, ok: Callable[[float], bool], requirement: str) -> float:
    """A constructor parameter as a float, or a ConfigError saying what it must be."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not ok(number):
        raise ConfigError(f"{owner}: {key} must be {requirement}, got {value!r}")
    return number


class Transform:
    """An invertible map between showers (or a previous stage's output) and model space.

    Subclasses implement ``_forward`` / ``_inverse`` on already-checked float64 arrays; the
    public methods do the checking so that every transform rejects bad input the same way.
    """

    type_name: ClassVar[str] = "Transform"
    #: Whether forward/inverse need the incident energies (otherwise ``None`` is accepted).
    needs_energies: ClassVar[bool] = False
    #: Keys of ``to_dict`` that hold fitted state rather than constructor arguments.
    _state_keys: ClassVar[tuple[str, ...]] = ()

    # -- public API -------------------------------------------------------------------------
    def fit(self, showers: np.ndarray, energies: np.ndarray | None = None) -> "Transform":
        """Learn whatever state the transform needs from training data; returns ``self``."""
        x, e = self._check(showers, energies, "fit input", self.input_dim)
        self._fit(x, e)
        return self

    def forward(self, showers: np.ndarray, energies: np.ndarray | None = None) -> np.ndarray:
        """Showers (or the previous stage's output) -> model space, float64."""
        self._require_fitted()
        x, e = self._check(showers, energies, "forward input", self.input_dim)
        return self._forward(x, e)

    def inverse(self, x: np.ndarray, energies: np.ndarray | None = None) -> np.ndarray:
        """Model space -> showers (or the previous stage's input), float64."""
        self._require_fitted()
        y, e = self._check(x, energies, "inverse input", self.output_dim)
        return self._inverse(y, e)

    @property
    def fitted(self) -> bool:
        """False only for a transform whose state must be learnt by :meth:`fit` first."""
        return True

    @property
    def input_dim(self) -> int | None:
        """Columns ``forward`` expects, or ``None`` when any width works."""
        return None

    @property
    def output_dim(self) -> int | None:
        """Columns ``forward`` produces (and ``inverse`` expects), or ``None`` when it follows the input."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description, fitted state included; inverse of :func:`transform_from_dict`."""
        return {"type": self.type_name, **self._config(), **self._state()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Transform":
        params = {k: v for k, v in d.items() if k != "type"}
        state = {k: params.pop(k) for k in cls._state_keys if k in params}
        try:
            obj = cls(**params)
        except TypeError as exc:  # missing or unexpected keys
            raise ConfigError(f"transform {cls.type_name}: bad description ({exc})") from None
        obj._load_state(state)
        return obj

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{self.type_name}({args})"

    # -- hooks for subclasses ----------------------------------------------------------------
    def _fit(self, x: np.ndarray, energies: np.ndarray | None) -> None:
        """Default: nothing to learn."""

    def _forward(self, x: np.ndarray, energies: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _inverse(self, y: np.ndarray, energies: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        return {}

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        pass

    # -- checks ------------------------------------------------------------------------------
    @property
    def _source(self) -> str:
        return f"<transform {self.type_name}>"

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ConfigError(f"{self._source}: this transform has no fitted state; call fit first")

    def _check(
        self, values: Any, energies: Any, what: str, width: int | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        x = self._numeric(values, what)
        if x.ndim != 2:
            raise DataError(self._source, f"{what} must be a 2-D array (N, columns), got shape {x.shape}")
        if width is not None and x.shape[1] != width:
            raise DataError(self._source, f"{what} must have {width} columns, got shape {x.shape}")
        x = x.astype(np.float64, copy=False)
        check_finite_rows(x, what, self._source)
        return x, self._check_energies(energies, x.shape[0])

    def _check_energies(self, energies: Any, n: int) -> np.ndarray | None:
        if energies is None:
            if self.needs_energies:
                raise DataError(self._source, "incident energies (N, 1) in MeV are required, got None")
            return None
        e = self._numeric(energies, "incident energies")
        if e.ndim == 1:
            e = e[:, None]
        if e.ndim != 2 or e.shape[1] != 1:
            raise DataError(self._source, f"incident energies must have shape (N, 1) or (N,), got {np.shape(energies)}")
        if e.shape[0] != n:
            raise DataError(self._source, f"input has {n} rows but incident energies have {e.shape[0]}")
        e = e.astype(np.float64, copy=False)
        check_finite_rows(e, "incident energies", self._source)
        bad = ~(e[:, 0] > 0)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                self._source,
                f"incident energies must be > 0 MeV; {int(bad.sum())} are not (first: {float(e[row, 0])} at row {row})",
            )
        return e

    def _numeric(self, values: Any, what: str) -> np.ndarray:
        try:
            arr = np.asarray(values)
        except ValueError as exc:  # ragged nested lists
            raise DataError(self._source, f"{what} is not a rectangular array ({exc})") from None
        if arr.dtype.kind not in "biuf":
            raise DataError(self._source, f"{what} must be numeric, got dtype {arr.dtype}")
        return arr


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


@register_transform
class Pipeline(Transform):
    """Stages applied in order (and undone in reverse), fitted and saved as one transform."""

    def __init__(self, stages: Sequence[Transform] = ()):
        if isinstance(stages, Transform | str | dict):
            raise ConfigError("Pipeline takes a list of transforms")
        stages = list(stages)
        for i, stage in enumerate(stages):
            if not isinstance(stage, Transform):
                raise ConfigError(f"Pipeline stage {i} is not a Transform: {stage!r}")
        self.stages = stages

    @property
    def needs_energies(self) -> bool:  # type: ignore[override]
        return any(stage.needs_energies for stage in self.stages)

    @property
    def fitted(self) -> bool:
        return all(stage.fitted for stage in self.stages)

    @property
    def input_dim(self) -> int | None:
        return self.stages[0].input_dim if self.stages else None

    @property
    def output_dim(self) -> int | None:
        """Width of the last stage that fixes one (later stages keep the width)."""
        for stage in reversed(self.stages):
            if stage.output_dim is not None:
                return stage.output_dim
        return None

    def fit(self, showers, energies=None):
        """Fit each stage on what the stages before it produce."""
        x, e = self._check(showers, energies, "fit input", self.input_dim)
        for i, stage in enumerate(self.stages):
            stage.fit(x, e)
            if i < len(self.stages) - 1:
                x = stage.forward(x, e)
        return self

    def _forward(self, x, energies):
        for stage in self.stages:
            x = stage.forward(x, energies)
        return x

    def _inverse(self, y, energies):
        for stage in reversed(self.stages):
            y = stage.inverse(y, energies)
        return y

    def _require_fitted(self) -> None:
        for stage in self.stages:
            stage._require_fitted()

    def to_dict(self):
        return {"type": self.type_name, "stages": [stage.to_dict() for stage in self.stages]}

    @classmethod
    def from_dict(cls, d):
        stages = d.get("stages", [])
        extra = sorted(set(d) - {"type", "stages"})
        if extra:
            raise ConfigError(f"transform Pipeline: unexpected keys {extra}")
        if not isinstance(stages, list):
            raise ConfigError(f"transform Pipeline: 'stages' must be a list, got {type(stages).__name__}")
        return cls([transform_from_dict(stage) for stage in stages])

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(repr(s) for s in self.stages)}])"


def transform_from_dict(d: dict[str, Any]) -> Transform:
    """Rebuild a transform (fitted state included) from :meth:`Transform.to_dict` output."""
    if not isinstance(d, dict):
        raise ConfigError(f"a transform description must be a dict with a 'type' key, got {type(d).__name__}")
    if "type" not in d:
        raise ConfigError(f"a transform description needs a 'type' key; valid types: {', '.join(list_transforms())}")
    name = d["type"]
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(unknown_name_error("transform", str(name), list(_REGISTRY)))
    return _REGISTRY[name].from_dict(d)


def transforms_to_json(transform: Transform) -> str:
    """JSON text of a transform; floats are written exactly, so loading restores identical outputs."""
    if not isinstance(transform, Transform):
        raise ConfigError(f"expected a Transform, got {type(transform).__name__}")
    return json.dumps(transform.to_dict(), allow_nan=False)


def transforms_from_json(text: str) -> Transform:
    """Inverse of :func:`transforms_to_json`."""
    try:
        d = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"transform description is not valid JSON: {exc}") from None
    return transform_from_dict(d)


__all__ = [
    "EnergyNormalize", "LayerFractions", "LogTransform", "LogitTransform", "Pipeline", "Standardize",
    "Transform", "list_transforms", "register_transform", "transform_from_dict",
    "transforms_from_json", "transforms_to_json",
]
