"""The transform interface: checked float64 arrays in and out, a JSON-able description, and the
registry that rebuilds a saved transform by its type name."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from hepgan.data.files import check_finite_rows
from hepgan.errors import ConfigError, DataError, unknown_name_error

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


__all__ = ["LOGIT_TOLERANCE", "Transform", "list_transforms", "register_transform", "transform_from_dict",
           "transforms_from_json", "transforms_to_json"]
