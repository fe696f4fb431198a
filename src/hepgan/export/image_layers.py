"""Convolutional layers after the lwtnn network: the ``image_network`` head stage.

lwtnn's sequential format has dense and normalization layers only, so a convolutional generator
(the DCGAN family, the MNIST recipes) is written as its dense prefix in lwtnn's ``layers`` and,
from the first layer lwtnn lacks on, as one head stage ``{"type": "image_network", "layers":
[...]}`` whose layers run in order on the network's flat output:

* ``{"type": "reshape", "shape": [C, H, W]}`` and ``{"type": "flatten"}`` (row-major, as torch);
* ``{"type": "conv", "weights": (out, in, kh, kw), "bias": (out,), "stride": [sh, sw],
  "padding": [ph, pw]}``, a cross-correlation with zero padding (torch's Conv2d);
* ``{"type": "tconv", "weights": (in, out, kh, kw), "bias", "stride", "padding",
  "output_padding": [oh, ow]}``, torch's ConvTranspose2d: each input pixel adds its kernel
  times its value at (stride x position - padding);
* ``{"type": "upsample", "factor": f, "mode": "nearest"|"bilinear"}`` (bilinear with torch's
  ``align_corners=False``);
* ``{"type": "normalization", "weights", "bias"}``: ``(x + bias) * weights`` per channel (or per
  value of a flat vector), batch norm with its running statistics, as lwtnn's layer;
* ``{"type": "dense", "weights": (out, in), "bias"}`` on a flat vector;
* ``{"type": "activation", "function": name, "alpha": a}``: lwtnn's activations and hepgan's
  output-only ones (``softplus``, ``exp``, ``abs``, ``softsign``, ``gauss``).

Everything runs in float32, as torch does.
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import DataError
from hepgan.export.dense_stack import ACTIVATIONS, OUTPUT_ACTIVATIONS

KNOWN_ACTIVATIONS = (*ACTIVATIONS, *OUTPUT_ACTIVATIONS)


# ---------------------------------------------------------------- writing (needs torch)


def image_layer(name: str, module, array) -> dict | None:
    """The stage layer of one torch module (None for one that changes nothing); ``array`` writes
    tensors as nested lists. A module with no such layer is a ConfigError naming ``name``."""
    from torch import nn

    from hepgan.errors import ConfigError

    if isinstance(module, (nn.Dropout, nn.Identity)):
        return None
    if isinstance(module, nn.Unflatten):
        return {"type": "reshape", "shape": list(module.unflattened_size)}
    if isinstance(module, nn.Flatten):
        return {"type": "flatten"}
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        if module.groups != 1 or tuple(module.dilation) != (1, 1) or module.padding_mode != "zeros":
            raise ConfigError(f"{name} cannot be exported to lwtnn: only plain convolutions (no groups, "
                              "dilation or non-zero padding)")
        layer = {"type": "conv" if isinstance(module, nn.Conv2d) else "tconv", "weights": array(module.weight),
                 "bias": array(module.bias) if module.bias is not None else [0.0] * module.out_channels,
                 "stride": list(module.stride), "padding": list(module.padding)}
        if isinstance(module, nn.ConvTranspose2d):
            layer["output_padding"] = list(module.output_padding)
        return layer
    if isinstance(module, nn.Upsample):
        factor = module.scale_factor
        if isinstance(factor, tuple):
            factor = factor[0]
        return {"type": "upsample", "factor": int(factor), "mode": module.mode}
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if module.running_mean is None:
            raise ConfigError(f"{name} cannot be exported to lwtnn: batch norm without running statistics "
                              "depends on the batch")
        import torch

        gamma = module.weight.detach().double() if module.affine else torch.ones(module.num_features).double()
        beta = module.bias.detach().double() if module.affine else torch.zeros(module.num_features).double()
        scale = gamma / torch.sqrt(module.running_var.double() + module.eps)
        return {"type": "normalization", "weights": array(scale), "bias": array(-module.running_mean.double()
                                                                                   + beta / scale)}
    if isinstance(module, nn.Linear):
        return {"type": "dense", "weights": array(module.weight), "bias": array(module.bias)}
    return None  # not a layer: the caller tries an activation


# ---------------------------------------------------------------- running (NumPy only)


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride, padding) -> np.ndarray:
    ph, pw = padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, w.shape[2:], axis=(2, 3))
    windows = windows[:, :, :: stride[0], :: stride[1]]  # (N, C, H', W', kh, kw)
    return np.einsum("nchwij,ocij->nohw", windows, w, optimize=True) + b[None, :, None, None]


def _tconv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride, padding, output_padding) -> np.ndarray:
    n, _, h, wd = x.shape
    kh, kw = w.shape[2:]
    sh, sw = stride
    out_h = (h - 1) * sh - 2 * padding[0] + kh + output_padding[0]
    out_w = (wd - 1) * sw - 2 * padding[1] + kw + output_padding[1]
    full = np.zeros((n, w.shape[1], (h - 1) * sh + kh + output_padding[0], (wd - 1) * sw + kw + output_padding[1]),
                    np.float32)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i : i + sh * h : sh, j : j + sw * wd : sw] += np.einsum("nchw,co->nohw", x, w[:, :, i, j])
    return full[:, :, padding[0] : padding[0] + out_h, padding[1] : padding[1] + out_w] + b[None, :, None, None]


def _bilinear_axis(x: np.ndarray, factor: int, axis: int) -> np.ndarray:
    size = x.shape[axis]
    source = np.maximum((np.arange(size * factor, dtype=np.float32) + np.float32(0.5)) / np.float32(factor)
                        - np.float32(0.5), np.float32(0))
    low = np.minimum(np.floor(source).astype(int), size - 1)
    high = np.minimum(low + 1, size - 1)
    t = (source - low).astype(np.float32)
    shape = [1] * x.ndim
    shape[axis] = -1
    t = t.reshape(shape)
    return np.take(x, low, axis=axis) * (1 - t) + np.take(x, high, axis=axis) * t


def _activation(x: np.ndarray, name: str, alpha: np.float32) -> np.ndarray:
    """lwtnn's activations (with their parameter) and the output-only ones, as the dense layers run them."""
    return ACTIVATIONS[name](x, alpha) if name in ACTIVATIONS else OUTPUT_ACTIVATIONS[name](x)


class ImageNetwork:
    """The ``image_network`` stage: ``run(v)`` on (N, features) -> (N, outputs) flat, float32."""

    def __init__(self, layers: list, source: str):
        self.source = source
        self.layers = [self._check(i, layer) for i, layer in enumerate(layers)]

    def _error(self, index: int, problem: str) -> DataError:
        return DataError(self.source, f"image_network layer {index}: {problem}")

    def _check(self, index: int, layer) -> dict:
        kind = layer.get("type") if isinstance(layer, dict) else None
        arrays = {}
        try:
            if kind in ("conv", "tconv", "dense", "normalization"):
                ndim = {"conv": 4, "tconv": 4, "dense": 2, "normalization": 1}[kind]
                arrays["weights"] = np.asarray(layer["weights"], np.float32)
                arrays["bias"] = np.asarray(layer["bias"], np.float32)
                if arrays["weights"].ndim != ndim or arrays["bias"].ndim != 1:
                    raise self._error(index, f"{kind} weights must have {ndim} dimensions and the bias 1")
            elif kind == "activation":
                if layer["function"] not in KNOWN_ACTIVATIONS:
                    raise self._error(index, f"unknown activation {layer['function']!r} "
                                             f"({', '.join(KNOWN_ACTIVATIONS)})")
                arrays["alpha"] = np.float32(layer.get("alpha", 1.0))
            elif kind == "upsample":
                if layer["mode"] not in ("nearest", "bilinear") or int(layer["factor"]) < 1:
                    raise self._error(index, "upsample needs a factor >= 1 and mode nearest or bilinear")
            elif kind not in ("reshape", "flatten"):
                raise self._error(index, f"unknown type {kind!r} (reshape, flatten, conv, tconv, upsample, "
                                         "normalization, dense, activation)")
        except KeyError as exc:
            raise self._error(index, f"missing key {exc}") from None
        except (TypeError, ValueError):
            raise self._error(index, "weights and bias must be numbers") from None
        return {**layer, **arrays}

    def run(self, v: np.ndarray) -> np.ndarray:
        x = v.astype(np.float32)
        for layer in self.layers:
            kind = layer["type"]
            if kind == "reshape":
                x = x.reshape(len(x), *layer["shape"])
            elif kind == "flatten":
                x = x.reshape(len(x), -1)
            elif kind == "conv":
                x = _conv(x, layer["weights"], layer["bias"], layer["stride"], layer["padding"])
            elif kind == "tconv":
                x = _tconv(x, layer["weights"], layer["bias"], layer["stride"], layer["padding"],
                           layer["output_padding"])
            elif kind == "upsample":
                f = int(layer["factor"])
                if layer["mode"] == "nearest":
                    x = x.repeat(f, axis=2).repeat(f, axis=3)
                else:
                    x = _bilinear_axis(_bilinear_axis(x, f, 2), f, 3)
            elif kind == "normalization":
                shape = (1, -1) + (1,) * (x.ndim - 2)
                x = (x + layer["bias"].reshape(shape)) * layer["weights"].reshape(shape)
            elif kind == "dense":
                x = x @ layer["weights"].T + layer["bias"]
            else:
                x = _activation(x, layer["function"], layer["alpha"])
            x = x.astype(np.float32, copy=False)
        return x.reshape(len(x), -1)


__all__ = ["KNOWN_ACTIVATIONS", "ImageNetwork", "image_layer"]
