"""Torch versions of the preprocessing inverses, so that an ONNX graph can end in MeV.

:mod:`hepgan.data.transforms` is NumPy; a graph needs the same maths as torch operations.
Each transform class registers a module whose constructor takes the fitted transform and whose
``forward(y, energies)`` undoes it, both float64 tensors (energies (N, 1) in MeV, or ``None``),
reproducing ``Transform.inverse`` (clipping included). Registration is by exact class, since
a subclass may change the maths. A new transform adds its inverse with a few lines::

    @register_torch_inverse(MyTransform)
    class _MyInverse(nn.Module):
        def __init__(self, t: MyTransform):
            super().__init__()
            self.register_buffer("scale", torch.as_tensor(t.scale, dtype=torch.float64))

        def forward(self, y, energies):
            return y * self.scale

Plain Python floats are baked into the graph as constants; arrays go in float64 buffers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from hepgan.data.transforms import (
    EnergyNormalize,
    LayerFractions,
    LogitTransform,
    LogTransform,
    Pipeline,
    Standardize,
    Transform,
)
from hepgan.errors import ConfigError

_INVERSES: dict[type[Transform], Callable[[Transform], nn.Module]] = {}


def register_torch_inverse(transform_cls: type[Transform]):
    """Class decorator: ``builder(transform)`` is the torch inverse of ``transform_cls`` instances."""

    def decorate(builder):
        if transform_cls in _INVERSES and _INVERSES[transform_cls] is not builder:
            raise ConfigError(f"transform {transform_cls.__name__!r} already has a torch inverse")
        _INVERSES[transform_cls] = builder
        return builder

    return decorate


def has_torch_inverse(transform: Transform) -> bool:
    if isinstance(transform, Pipeline):
        return all(has_torch_inverse(stage) for stage in transform.stages)
    return type(transform) in _INVERSES


def torch_inverse(transform: Transform) -> nn.Module:
    """The registered torch module undoing ``transform`` (fitted), or a ConfigError naming it."""
    builder = _INVERSES.get(type(transform))
    if builder is None:
        raise ConfigError(
            f"preprocessing transform {type(transform).__name__} has no torch inverse, so the ONNX graph cannot "
            f"end in MeV; register one with @register_torch_inverse({type(transform).__name__}) "
            "(see hepgan/export/torch_inverse.py), or export with --format lwtnn"
        )
    transform._require_fitted()
    return builder(transform)


def _float64(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, np.float64))


@register_torch_inverse(Pipeline)
class _PipelineInverse(nn.Module):
    def __init__(self, t: Pipeline):
        super().__init__()
        self.stages = nn.ModuleList(torch_inverse(stage) for stage in reversed(t.stages))

    def forward(self, y, energies):
        for stage in self.stages:
            y = stage(y, energies)
        return y


@register_torch_inverse(EnergyNormalize)
class _EnergyNormalizeInverse(nn.Module):
    def __init__(self, t: EnergyNormalize):
        super().__init__()
        self.scale = float(t.scale)

    def forward(self, y, energies):
        return y * energies / self.scale


@register_torch_inverse(LogTransform)
class _LogInverse(nn.Module):
    def __init__(self, t: LogTransform):
        super().__init__()
        self.eps = float(t.eps)
        self.zero_below = float(t._zero_below)

    def forward(self, y, energies):
        x = torch.exp(y) - self.eps
        return torch.where(x < self.zero_below, torch.zeros_like(x), x)


@register_torch_inverse(LogitTransform)
class _LogitInverse(nn.Module):
    def __init__(self, t: LogitTransform):
        super().__init__()
        self.alpha = float(t.alpha)
        self.zero_below = float(t._zero_below)

    def forward(self, y, energies):
        x = torch.clamp((torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha), max=1.0)
        return torch.where(x < self.zero_below, torch.zeros_like(x), x)


@register_torch_inverse(Standardize)
class _StandardizeInverse(nn.Module):
    def __init__(self, t: Standardize):
        super().__init__()
        self.register_buffer("mean", _float64(t.mean))
        self.register_buffer("std", _float64(t.std))

    def forward(self, y, energies):
        return y * self.std + self.mean


@register_torch_inverse(LayerFractions)
class _LayerFractionsInverse(nn.Module):
    def __init__(self, t: LayerFractions):
        super().__init__()
        self.n_layers = t.n_layers
        self.slices = [(sl.start + t.n_layers, sl.stop + t.n_layers) for sl in t.geometry.layer_slices]

    def forward(self, y, energies):
        y = torch.clamp(y, min=0.0)
        parts = []
        for layer, (start, stop) in enumerate(self.slices):
            cells = y[:, start:stop]
            total = cells.sum(dim=1, keepdim=True)
            safe = torch.where(total > 0, total, torch.ones_like(total))
            fractions = torch.where(total > 0, cells / safe, torch.zeros_like(cells))
            parts.append(fractions * y[:, layer : layer + 1] * energies)
        return torch.cat(parts, dim=1)


__all__ = ["has_torch_inverse", "register_torch_inverse", "torch_inverse"]
