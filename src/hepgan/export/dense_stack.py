"""lwtnn's sequential layers in NumPy: dense and normalization layers with lwtnn's activations.

The network part of every lwtnn file hepgan writes, and the shape network inside the layered
family's head stage (:mod:`hepgan.export.layered_head`). Never imports torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepgan.errors import DataError


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for any x, one transcendental


def _swish(x: np.ndarray, alpha) -> np.ndarray:
    """x * sigmoid(alpha x), in place on a temporary: the hot loop of the flagship generator."""
    t = x * (0.5 * alpha)
    np.tanh(t, out=t)
    t *= 0.5
    t += 0.5
    t *= x
    return t


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x, dtype=x.dtype)


ACTIVATIONS = {
    "linear": lambda x, a: x,
    "rectified": lambda x, a: np.maximum(x, 0.0, dtype=x.dtype),
    "sigmoid": lambda x, a: _sigmoid(x),
    "tanh": lambda x, a: np.tanh(x),
    "leakyrelu": lambda x, a: np.where(x > 0, x, x * a),
    "elu": lambda x, a: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0, dtype=x.dtype))),
    "swish": _swish,
}
OUTPUT_ACTIVATIONS = {
    "softplus": _softplus,
    "exp": np.exp,
    "abs": np.abs,
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "gauss": lambda x: np.exp(-x * x),
}


class DenseStack:
    """lwtnn's sequential layers (dense and normalization, with activations): ``stack(x)``."""

    def __init__(self, layers: Any, source: str, dtype=np.float32):
        self.source = source
        self.dtype = np.dtype(dtype)
        if not isinstance(layers, list):
            raise self._error("'layers' must be a list")
        self.layers = [self._layer(i, layer) for i, layer in enumerate(layers)]

    def _error(self, problem: str) -> DataError:
        return DataError(self.source, f"lwtnn file: {problem}")

    def output_width(self, width: int) -> int:
        """The width after the layers for ``width`` inputs; a DataError where a layer does not fit."""
        for i, (kind, w, b, _, _) in enumerate(self.layers):
            if kind == "dense" and w is not None:
                if w.shape[1] != width:
                    raise self._error(f"layer {i}: weights take {w.shape[1]} inputs but the previous layer gives {width}")
                width = w.shape[0]
            elif kind == "normalization" and w.shape[0] != width:
                raise self._error(f"layer {i}: normalization of {w.shape[0]} values after a layer of {width}")
        return width

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(self.dtype, copy=False)
        for kind, w, b, function, alpha in self.layers:
            if kind == "normalization":
                x = (x + b) * w
                continue
            if w is not None:
                x = x @ w.T
                x += b
            x = function(x, alpha)
        return x

    def _layer(self, index: int, layer: Any):
        if not isinstance(layer, dict):
            raise self._error(f"layer {index} is not an object")
        arch = layer.get("architecture")
        try:
            w = np.asarray(layer.get("weights", []), np.float64)
            b = np.asarray(layer.get("bias", []), np.float64)
        except (TypeError, ValueError):
            raise self._error(f"layer {index}: weights and bias must be lists of numbers") from None
        if arch == "normalization":
            if w.shape != b.shape or w.ndim != 1:
                raise self._error(f"layer {index}: normalization weights and bias must be lists of one length")
            return "normalization", w.astype(self.dtype), b.astype(self.dtype), None, 0.0
        if arch != "dense":
            raise self._error(f"layer {index}: architecture {arch!r} is not supported (dense, normalization)")
        function, alpha = self._activation(index, layer.get("activation", "linear"))
        if w.size == 0:
            return "dense", None, None, function, alpha
        if b.ndim != 1 or b.size == 0 or w.size % b.size:
            raise self._error(f"layer {index}: {w.size} weights do not fit {b.size} biases")
        weights = w.reshape(b.size, -1)
        return "dense", weights.astype(self.dtype), b.astype(self.dtype), function, alpha

    def _activation(self, index: int, activation: Any):
        if isinstance(activation, dict):
            name, alpha = activation.get("function"), float(activation.get("alpha", 1.0))
        else:
            name, alpha = activation, 1.0
        if name not in ACTIVATIONS:
            raise self._error(f"layer {index}: activation {name!r} is not supported ({', '.join(ACTIVATIONS)})")
        return ACTIVATIONS[name], self.dtype.type(alpha)


__all__ = ["ACTIVATIONS", "OUTPUT_ACTIVATIONS", "DenseStack"]
