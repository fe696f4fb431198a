"""Turns a layout into a torch module, inferring every layer's shape from the input shape.

Shapes are without the batch dimension: flat ``(n,)`` or image ``(C, H, W)``. Every mismatch
is found at build time, before any training, and reported as a :class:`LayoutError` with the
caret on the offending layer (TMVA instead silently forced reshapes and flattening):

* DENSE on an image flattens it implicitly (C*H*W inputs), as TMVA's dense layers do: a
  dense layer has no use for the spatial structure, and writing RESHAPE|FLAT is optional.
* CONV, TCONV, MAXPOOL and UPSAMPLE need an image; on a flat input they ask for RESHAPE|C|H|W.
* ``RESHAPE|d|h|w`` must receive exactly d*h*w values; ``RESHAPE|d|h|w|FLAT`` checks the same
  and then flattens; ``RESHAPE|FLAT`` flattens whatever comes.
* A layer whose output would have a non-positive size is an error at that layer.
* CONCAT needs ``cond_dim > 0``, and ``cond_dim > 0`` needs a CONCAT (an unused condition is
  a bug, not a choice). EMBED needs a flat input of size 1 holding integer class indices.

Weights start at PyTorch's defaults, or Glorot-uniform with zero biases for DENSE, CONV and
TCONV when ``init="glorot"`` (embeddings and norm layers keep their defaults).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from hepgan.errors import ConfigError, HepganError, unknown_name_error
from hepgan.nn.layers import (
    ClassEmbedding, ConcatCondition, Exp, Gauss, MinibatchStd, Swish, SymmReLU, VirtualBatchNorm,
)
from hepgan.nn.layout import (
    LayerSpec, LayoutError, NetworkLayout, WidthExpression, format_layer, format_layout, parse_layout,
    parse_shape,
)

Shape = tuple[int, ...]
INITS = ("default", "glorot")

_SIMPLE_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "RELU": nn.ReLU, "TANH": nn.Tanh, "SIGMOID": nn.Sigmoid, "LINEAR": nn.Identity,
    "SYMMRELU": SymmReLU, "SOFTSIGN": nn.Softsign, "GAUSS": Gauss, "SWISH": Swish,
    "ELU": nn.ELU, "SOFTPLUS": nn.Softplus, "EXP": Exp,
}


def make_activation(name: str) -> nn.Module:
    """The module for a canonical activation name such as ``RELU`` or ``LEAKYRELU:0.1``."""
    base, _, arg = name.partition(":")
    if base == "LEAKYRELU":
        return nn.LeakyReLU(float(arg) if arg else 0.2)
    return _SIMPLE_ACTIVATIONS[base]()


def _with_activation(layer: nn.Module, act: str) -> nn.Module:
    return layer if act == "LINEAR" else nn.Sequential(layer, make_activation(act))


def _size(shape: Shape) -> int:
    return math.prod(shape)


def _describe(shape: Shape) -> str:
    return "x".join(map(str, shape))


class _LayerBuilder:
    """Builds one layer from the incoming shape; failures point at the layer's token."""

    def __init__(self, layout: NetworkLayout, index: int, cond_dim: int, n_inputs: int):
        self.spec = layout.layers[index]
        self.cond_dim = cond_dim
        self.n_inputs = n_inputs
        self.layout = layout
        self.text, self.column, self.token = _locate(layout, index)

    def fail(self, problem: str, detail: str = "") -> LayoutError:
        return LayoutError(problem, text=self.text, column=self.column, token=self.token, detail=detail)

    def need_image(self, shape: Shape) -> tuple[int, int, int]:
        if len(shape) != 3:
            raise self.fail(f"{self.spec.kind} needs an image input (C, H, W) but receives a flat "
                            f"vector of {shape[0]} values",
                            "; add RESHAPE|C|H|W before it, with C*H*W = " + str(shape[0]))
        return shape  # type: ignore[return-value]

    def check_positive(self, shape: Shape, incoming: Shape) -> Shape:
        if min(shape) <= 0:
            raise self.fail(f"{format_layer(self.spec)} produces a non-positive size "
                            f"{_describe(shape)} from {_describe(incoming)}")
        return shape

    def build(self, shape: Shape) -> tuple[nn.Module, Shape]:
        return getattr(self, f"_{self.spec.kind.lower()}")(self.spec, shape)

    # ---- one method per layer kind

    def _dense(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        units = self.width(s["units"])
        linear = nn.Linear(_size(shape), units)
        layer = linear if len(shape) == 1 else nn.Sequential(nn.Flatten(), linear)
        return _with_activation(layer, s["act"]), (units,)

    def width(self, units: int | WidthExpression) -> int:
        """A DENSE width; an expression of N is evaluated for this network's number of inputs."""
        if isinstance(units, int):
            return units
        value = units.width(self.n_inputs)
        if value >= 1:
            return value
        written = self.layout.text[units.column:units.column + len(units.source)] == units.source
        text, column, token = (self.layout.text, units.column, units.source) if written else \
            (self.text, self.column, self.token)
        raise LayoutError(f"DENSE width {units} is {units.value(self.n_inputs):g} for N = {self.n_inputs} "
                          "inputs; it must come to a positive integer", text=text, column=column, token=token)

    def _conv(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        c, h, w = self.need_image(shape)
        out = (s["depth"], (h + 2 * s["ph"] - s["fh"]) // s["sh"] + 1,
               (w + 2 * s["pw"] - s["fw"]) // s["sw"] + 1)
        self.check_positive(out, shape)
        conv = nn.Conv2d(c, s["depth"], (s["fh"], s["fw"]), (s["sh"], s["sw"]), (s["ph"], s["pw"]))
        return _with_activation(conv, s["act"]), out

    def _tconv(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        c, h, w = self.need_image(shape)
        out = (s["depth"], (h - 1) * s["sh"] - 2 * s["ph"] + s["fh"] + s["op"],
               (w - 1) * s["sw"] - 2 * s["pw"] + s["fw"] + s["op"])
        self.check_positive(out, shape)
        conv = nn.ConvTranspose2d(c, s["depth"], (s["fh"], s["fw"]), (s["sh"], s["sw"]),
                                  (s["ph"], s["pw"]), output_padding=s["op"])
        return _with_activation(conv, s["act"]), out

    def _maxpool(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        c, h, w = self.need_image(shape)
        out = (c, (h - s["fh"]) // s["sh"] + 1, (w - s["fw"]) // s["sw"] + 1)
        self.check_positive(out, shape)
        return nn.MaxPool2d((s["fh"], s["fw"]), (s["sh"], s["sw"])), out

    def _upsample(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        c, h, w = self.need_image(shape)
        mode = s["mode"].lower()
        layer = nn.Upsample(scale_factor=s["factor"], mode=mode,
                            align_corners=False if mode == "bilinear" else None)
        return layer, (c, h * s["factor"], w * s["factor"])

    def _reshape(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        if s["depth"] is None:
            return nn.Flatten(), (_size(shape),)
        target = (s["depth"], s["height"], s["width"])
        if _size(target) != _size(shape):
            raise self.fail(f"{format_layer(s)} expects {_size(target)} values but receives "
                            f"{_size(shape)} ({_describe(shape)})")
        if s["flat"]:
            return nn.Flatten(), (_size(target),)
        return nn.Unflatten(1, target) if len(shape) == 1 else nn.Sequential(
            nn.Flatten(), nn.Unflatten(1, target)), target

    def _bnorm(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        momentum = None if s["momentum"] < 0 else 1.0 - s["momentum"]
        norm = nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d
        return norm(shape[0], eps=s["eps"], momentum=momentum), shape

    def _layernorm(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.LayerNorm(list(shape)), shape

    def _vbn(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        return VirtualBatchNorm(shape[0]), shape

    def _dropout(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.Dropout(s["p"]), shape

    def _leakyrelu(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        return nn.LeakyReLU(s["slope"]), shape

    def _act(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        return make_activation(s["act"]), shape

    def _embed(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        if shape != (1,):
            raise self.fail(f"EMBED needs a flat input of one integer class index per example, "
                            f"shape (1,), but receives {_describe(shape)}")
        return ClassEmbedding(s["n_classes"], s["dim"]), (s["dim"],)

    def _concat(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        if self.cond_dim <= 0:
            raise self.fail("CONCAT needs a condition but the network is built with cond_dim=0",
                            "; pass cond_dim (the condition vector's length) to build_network")
        return ConcatCondition(self.cond_dim), (shape[0] + self.cond_dim, *shape[1:])

    def _minibatchstd(self, s: LayerSpec, shape: Shape) -> tuple[nn.Module, Shape]:
        return MinibatchStd(s["group"]), (shape[0] + 1, *shape[1:])


def _locate(layout: NetworkLayout, index: int) -> tuple[str, int, str]:
    """Text, column and token to point at for layer ``index``.

    The layout's own text when the layer's recorded position matches it; otherwise (a layout
    built in code) the canonical string.
    """
    spec = layout.layers[index]
    if spec.text and layout.text[spec.column:spec.column + len(spec.text)] == spec.text:
        return layout.text, spec.column, spec.text
    tokens = [format_layer(s) for s in layout.layers]
    column = sum(len(t) + 2 for t in tokens[:index])
    return ", ".join(tokens), column, tokens[index]


def _check_input_shape(input_shape: object) -> Shape:
    if isinstance(input_shape, str):
        return parse_shape(input_shape)
    try:
        shape = tuple(int(n) for n in input_shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(f"input_shape must be a tuple of positive integers, got {input_shape!r}")
    if len(shape) not in (1, 3) or min(shape) <= 0:
        raise ConfigError(f"input_shape must be flat (n,) or an image (C, H, W) of positive sizes, "
                          f"got {shape}")
    return shape


def _glorot(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class Network(nn.Module):
    """A network built from a layout: one block per layer, shapes known in advance.

    ``input_shape``/``output_shape`` exclude the batch dimension; ``layer_shapes[i]`` is the
    output shape of layer ``i``; ``cond_dim`` is the condition length CONCAT layers append.
    """

    def __init__(self, layout: NetworkLayout, input_shape: Shape, cond_dim: int = 0):
        super().__init__()
        self.layout = layout
        self.input_shape = tuple(input_shape)
        self.cond_dim = cond_dim
        blocks, shapes, shape = [], [], self.input_shape
        for index in range(len(layout.layers)):
            block, shape = _LayerBuilder(layout, index, cond_dim, _size(self.input_shape)).build(shape)
            blocks.append(block)
            shapes.append(shape)
        self.blocks = nn.ModuleList(blocks)
        self.layer_shapes: tuple[Shape, ...] = tuple(shapes)
        self.output_shape: Shape = shape
        self.uses_condition = any(isinstance(b, ConcatCondition) for b in blocks)

    def to_layout(self) -> str:
        """The canonical layout string this network was built from."""
        return format_layout(self.layout)

    def _check(self, x: torch.Tensor, cond: torch.Tensor | None) -> None:
        if tuple(x.shape[1:]) != self.input_shape or x.dim() != len(self.input_shape) + 1:
            expected = ", ".join(map(str, self.input_shape))
            raise HepganError(f"network expects input of shape (N, {expected}), got {tuple(x.shape)}")
        if cond is not None and not self.uses_condition:
            raise HepganError("this network has no CONCAT layer and takes no condition")

    def _run(self, x: torch.Tensor, cond: torch.Tensor | None, reference: bool) -> torch.Tensor:
        for block in self.blocks:
            if isinstance(block, ConcatCondition):
                x = block(x, cond)
            elif reference and isinstance(block, VirtualBatchNorm):
                x = block.set_reference(x)
            else:
                x = block(x)
        return x

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        self._check(x, cond)
        return self._run(x, cond, reference=False)

    def set_reference_batch(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> Network:
        """Fix every VBN layer's reference statistics by running ``x`` through the network.

        Runs without gradients in evaluation mode (no dropout, batch-norm running statistics
        left alone), then restores the previous mode. Each VBN layer takes its statistics from
        the reference batch as it arrives there, normalised by the VBN layers before it.
        """
        self._check(x, cond)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                self._run(x, cond, reference=True)
        finally:
            self.train(was_training)
        return self


def build_network(layout: str | NetworkLayout, input_shape: Shape | str, cond_dim: int = 0,
                  *, init: str | None = None) -> Network:
    """Build ``layout`` for inputs of ``input_shape`` (no batch dim; ``"1|28|28"`` also works).

    ``cond_dim`` is the length of the condition vector that CONCAT layers append; ``init`` is
    ``None``/``"default"`` (PyTorch's initialisation) or ``"glorot"``.
    """
    if isinstance(layout, str):
        layout = parse_layout(layout)
    shape = _check_input_shape(input_shape)
    if isinstance(cond_dim, bool) or not isinstance(cond_dim, int) or cond_dim < 0:
        raise ConfigError(f"cond_dim must be a non-negative integer, got {cond_dim!r}")
    if cond_dim > 0 and not any(spec.kind == "CONCAT" for spec in layout.layers):
        raise ConfigError(f"cond_dim={cond_dim} but the layout has no CONCAT layer to feed the "
                          f"condition into: {format_layout(layout)}")
    init_name = "default" if init is None else init
    if init_name not in INITS:
        raise ConfigError(unknown_name_error("init", str(init), list(INITS)))
    network = Network(layout, shape, cond_dim)
    if init_name == "glorot":
        _glorot(network)
    return network


__all__ = ["INITS", "Network", "build_network", "make_activation"]
