"""Networks from layout strings: ``build_network("DENSE|64|RELU, DENSE|1|SIGMOID", (784,))``.

:mod:`~hepgan.nn.layout` is the language (TMVA's layouts plus extensions) and its errors,
:mod:`~hepgan.nn.build` turns a layout into a torch module with every shape checked,
:mod:`~hepgan.nn.layers` holds the custom modules, :mod:`~hepgan.nn.presets` named layouts.
"""

from __future__ import annotations

from hepgan.nn.build import INITS, Network, build_network, make_activation
from hepgan.nn.layers import (
    ClassEmbedding, ConcatCondition, Exp, Gauss, MinibatchStd, Swish, SymmReLU, VirtualBatchNorm,
)
from hepgan.nn.layout import (
    ACTIVATIONS, FORMS, LAYER_KINDS, LayerSpec, LayoutError, NetworkLayout, format_gan_layout,
    format_layer, format_layout, parse_gan_layout, parse_layout, parse_shape,
)
from hepgan.nn.presets import (
    PRESET_SHAPES, PRESETS, PresetShape, get_preset, list_presets, resolve_layout,
)

__all__ = [
    "ACTIVATIONS", "FORMS", "INITS", "LAYER_KINDS", "PRESETS", "PRESET_SHAPES",
    "ClassEmbedding", "ConcatCondition", "Exp", "Gauss", "LayerSpec", "LayoutError",
    "MinibatchStd", "Network", "NetworkLayout", "PresetShape", "Swish", "SymmReLU",
    "VirtualBatchNorm", "build_network", "format_gan_layout", "format_layer", "format_layout",
    "get_preset", "list_presets", "make_activation", "parse_gan_layout", "parse_layout",
    "parse_shape", "resolve_layout",
]
