"""lwtnn export: a generator's dense network as lwtnn's sequential JSON, plus two hepgan sections.

lwtnn (the C++ library ATLAS uses to run small networks in Athena) reads::

    {"inputs":  [{"name": "z_0", "offset": 0.0, "scale": 1.0}, ...],
     "layers":  [{"architecture": "dense", "weights": [...], "bias": [...], "activation": ...}, ...],
     "outputs": ["cell_0", ...], "defaults": {}, "miscellaneous": {...}}

Inputs are transformed as ``(x + offset) * scale``; dense weights are the (out, in) matrix
flattened row by row; activations are strings (``linear``, ``rectified``, ``sigmoid``,
``tanh``) or, when they carry a parameter, ``{"function": "swish"|"leakyrelu"|"elu", "alpha": a}``
(Swish's trainable beta is lwtnn's swish alpha). Batch norm (evaluation statistics) becomes a
``normalization`` layer, ``(x + bias) * weights``.

The network's inputs are the latent vector ``z_i``, then the conditions *before*
standardisation, which lwtnn's offset/scale then applies: ``log_energy`` (ln of the energy in
MeV), ``impact_eta``, ``impact_phi``, ``alignment_j`` (one-hot) and ``label_j`` (one-hot classes).

What lwtnn cannot do is kept in two extra top-level sections that lwtnn ignores and
:mod:`hepgan.export.runtime` applies after the network:

* ``hepgan_postprocess`` (``version`` 2): ``network_latent``, how many of the caller's latent
  values the network takes (``z_0`` ...; a head's noise takes the rest); ``output_activation``
  (an elementwise activation of the *last* layer that lwtnn lacks, e.g. ``softplus``; null when
  none); ``head``, the stages after the network that lwtnn cannot express
  (:mod:`hepgan.export.head`: the calorimeter family's head, a convolutional generator's
  ``image_network``, the layered family's ``layered_shower``; empty for plain MLPs), which turn
  the network's ``feature_i`` outputs into cells or pixels; then
  ``transform`` (the fitted preprocessing as :meth:`Transform.to_dict`, whose
  ``inverse(x, energies)`` gives MeV), or ``images: true`` for ``clip((x + 1) * 127.5, 0, 255)``;
* ``hepgan``: :class:`~hepgan.export.info.ExportInfo` (geometry, condition encoder, trained
  range, verification).

Layers with no equivalent in either part (pooling, layer norm, VBN, minibatch std, conditions
entering after the first layer, ...) are a ConfigError naming the layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from hepgan.data.conditions import PASSED_THROUGH, LOG_SCALED
from hepgan.errors import ConfigError
from hepgan.export.head import FORMAT_VERSION, head_stages, json_array
from hepgan.export.image_layers import image_layer
from hepgan.export.layered_head import layered_stage
from hepgan.export.info import ExportInfo, info_from_generator
from hepgan.export.module import layout_network, network_layers, reference_forward
from hepgan.export.verify import compare, verification_batch
from hepgan.nn.layers import ConcatCondition, Exp, Gauss, Swish, SymmReLU

#: Elementwise activations lwtnn lacks, allowed only on the output (hepgan_postprocess applies them).
OUTPUT_ONLY = {nn.Softplus: "softplus", Exp: "exp", SymmReLU: "abs", nn.Softsign: "softsign", Gauss: "gauss"}
_NO_OPS = (nn.Flatten, nn.Unflatten, nn.Dropout, nn.Identity)


@dataclass
class LwtnnResult:
    path: Path | None
    spec: dict
    info: ExportInfo
    size: int

    @property
    def verification(self) -> dict:
        return self.info.extra["verification"]


def export_lwtnn(gen, out: str | Path | None = None, *, source: str = "") -> LwtnnResult:
    """Convert ``gen`` (an MLP TrainedGenerator), verify it with the NumPy runtime, write it to ``out`` if given."""
    from hepgan.export.runtime import LwtnnGenerator

    spec = to_lwtnn(gen, source=source)
    info = ExportInfo.from_dict(spec["hepgan"], "<lwtnn export>")
    z, conditions, labels = verification_batch(info)
    actual = LwtnnGenerator(spec, "<lwtnn export>").run(z, conditions, labels)
    info.extra["verification"] = compare(actual, reference_forward(gen, z, conditions, labels),
                                         "the lwtnn model (hepgan NumPy runtime)")
    spec["hepgan"] = info.to_dict()
    text = json.dumps(spec, separators=(",", ":"), allow_nan=False)
    path = None
    if out is not None:
        from hepgan.data.files import atomic_output

        path = Path(out)
        with atomic_output(path) as tmp:
            Path(tmp).write_text(text)
    return LwtnnResult(path, spec, info, len(text.encode()))


def to_lwtnn(gen, source: str = "") -> dict:
    """The lwtnn JSON description of ``gen`` (a dict), or a ConfigError naming a layer lwtnn cannot express."""
    stages, primitives, conditions_in = _network_and_head(gen)
    info = info_from_generator(gen, source)
    info.extra = {"format": "lwtnn"}
    layers: list[dict] = []
    output_activation = None
    split = _image_part_start(primitives)
    if split < len(primitives):  # convolutions and what follows them: a head stage
        stages.append({"type": "image_network", "layers": _image_layers(primitives[split:])})
    for i, (name, module) in enumerate(primitives[:split]):
        if isinstance(module, ConcatCondition):
            if layers:
                raise _cannot(name, "the conditions enter after the first layer; lwtnn's sequential format only "
                                    "takes them as inputs (put CONCAT first)")
            conditions_in = True
        elif isinstance(module, _NO_OPS):
            continue  # reshapes keep the row-major order of a flat vector; dropout is off in evaluation
        elif isinstance(module, nn.Linear):
            layers.append({"architecture": "dense", "weights": _floats(module.weight), "bias": _floats(module.bias),
                           "activation": "linear"})
        elif isinstance(module, nn.BatchNorm1d):
            layers.append(_normalization(name, module))
        elif type(module) in OUTPUT_ONLY:
            if not all(isinstance(m, _NO_OPS) for _, m in primitives[i + 1 :]):
                raise _cannot(name, f"lwtnn has no {OUTPUT_ONLY[type(module)]} activation (hepgan applies it only "
                                    "on the output layer)")
            output_activation = OUTPUT_ONLY[type(module)]
        else:
            activation = _activation(name, module)
            if layers and layers[-1]["architecture"] == "dense" and layers[-1]["activation"] == "linear" and layers[-1]["weights"]:
                layers[-1]["activation"] = activation
            else:
                layers.append({"architecture": "dense", "weights": [], "bias": [], "activation": activation})
    if gen.encoder.dim and not conditions_in:
        raise ConfigError("the generator takes conditions but no CONCAT layer feeds them; cannot export to lwtnn")
    transform = gen.transform.to_dict() if gen.kind == "showers" and gen.transform is not None else None
    network_latent = _network_latent(gen)  # the head takes the rest
    inputs = _inputs(gen, conditions_in, network_latent)
    if stages:  # the network makes features, the head cells or pixels
        width = next((len(layer["bias"]) for layer in reversed(layers) if layer["weights"]), len(inputs))
        outputs = [f"feature_{i}" for i in range(width)]
    else:
        outputs = [f"{'cell' if gen.kind == 'showers' else 'pixel'}_{i}" for i in range(info.n_outputs)]
    return {
        "inputs": inputs,
        "layers": layers,
        "outputs": outputs,
        "defaults": {},
        "miscellaneous": {"producer": "hepgan", "note": "apply the hepgan_postprocess section to the outputs"},
        "hepgan_postprocess": {"version": FORMAT_VERSION, "network_latent": network_latent,
                               "output_activation": output_activation, "head": stages, "transform": transform,
                               "images": gen.kind == "images"},
        "hepgan": info.to_dict(),
    }


def _network_and_head(gen) -> tuple[list[dict], list[tuple[str, nn.Module]], bool]:
    """(head stages, the network's primitive modules named for errors, whether the conditions
    are network inputs) of the families hepgan trains."""
    from hepgan.models.layered.networks import LayeredGenerator

    if isinstance(gen.network, LayeredGenerator):
        net = gen.network.energy_net
        stage = layered_stage(gen.network, json_array, lambda mlp: _dense_layers("shape network", mlp))
        return [stage], [(f"energy network layer {i} ({type(m).__name__})", m) for i, m in enumerate(net)], True
    net = layout_network(gen)
    stages, body = head_stages(gen.network)
    extra = [f"{name} ({type(m).__name__})" for name, m in body.named_modules()
             if name and not any(sub is net for sub in m.modules()) and not any(sub is m for sub in net.modules())]
    if extra:
        raise ConfigError(f"the generator's {', '.join(extra[:1])} outside its layout network cannot be expressed "
                          "in lwtnn; export with --format onnx instead")
    primitives = [(name, m) for name, block in network_layers(gen) for m in _primitives(block)]
    return stages, primitives, bool(getattr(gen.network, "feeds_cond", False))


def _network_latent(gen) -> int:
    """How many latent values the lwtnn network takes (a head's noise takes the rest)."""
    from hepgan.models.layered.networks import LayeredGenerator

    if isinstance(gen.network, LayeredGenerator):
        return gen.network.shower_latent
    return int(gen.latent_dim) - int(getattr(gen.network, "noise_dim", 0))


def _dense_layers(what: str, mlp: nn.Sequential) -> list[dict]:
    """lwtnn layers of a torch MLP of Linear layers and activations."""
    layers = []
    for i, module in enumerate(mlp):
        if isinstance(module, nn.Linear):
            layers.append({"architecture": "dense", "weights": _floats(module.weight), "bias": _floats(module.bias),
                           "activation": "linear"})
        else:
            layers[-1]["activation"] = _activation(f"{what} layer {i}", module)
    return layers


_IMAGE_ONLY = (nn.Conv2d, nn.ConvTranspose2d, nn.Upsample, nn.BatchNorm2d)


def _image_part_start(primitives: list[tuple[str, nn.Module]]) -> int:
    """Index of the first layer of the convolutional part (the reshape before the first
    convolution), or len(primitives) for a network lwtnn runs whole."""
    first = next((i for i, (_, m) in enumerate(primitives) if isinstance(m, _IMAGE_ONLY)), len(primitives))
    if first == len(primitives):
        return first
    reshape = next((i for i in range(first - 1, -1, -1) if isinstance(primitives[i][1], nn.Unflatten)), None)
    return first if reshape is None else reshape


def _image_layers(primitives: list[tuple[str, nn.Module]]) -> list[dict]:
    layers = []
    for name, module in primitives:
        if isinstance(module, ConcatCondition):
            raise _cannot(name, "the conditions enter after a convolution; put CONCAT first")
        layer = image_layer(name, module, json_array)
        if layer is None and not isinstance(module, _NO_OPS):
            function = OUTPUT_ONLY.get(type(module)) or _activation(name, module)
            layer = {"type": "activation", **(function if isinstance(function, dict) else {"function": function})}
        if layer is not None:
            layers.append(layer)
    return layers


def _cannot(name: str, why: str) -> ConfigError:
    return ConfigError(f"{name} cannot be expressed in lwtnn: {why}; export with --format onnx instead")


def _primitives(block: nn.Module) -> list[nn.Module]:
    if isinstance(block, nn.Sequential):
        return [m for child in block for m in _primitives(child)]
    return [block]


def _floats(tensor) -> list[float]:
    """float32 values written with the fewest digits that read back to the same float32."""
    return [float(s) for s in map(str, tensor.detach().cpu().numpy().astype(np.float32).reshape(-1))]


def _activation(name: str, module: nn.Module):
    if isinstance(module, nn.ReLU):
        return "rectified"
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    if isinstance(module, nn.Tanh):
        return "tanh"
    if isinstance(module, nn.LeakyReLU):
        return {"function": "leakyrelu", "alpha": float(module.negative_slope)}
    if isinstance(module, nn.ELU):
        return {"function": "elu", "alpha": float(module.alpha)}
    if isinstance(module, Swish):
        return {"function": "swish", "alpha": float(module.beta.detach())}
    if isinstance(module, nn.SiLU):
        return {"function": "swish", "alpha": 1.0}
    raise _cannot(name, f"lwtnn has no {type(module).__name__} layer")


def _normalization(name: str, bn: nn.BatchNorm1d) -> dict:
    if bn.running_mean is None:
        raise _cannot(name, "batch norm without running statistics depends on the batch")
    gamma = bn.weight.detach().double().numpy() if bn.affine else np.ones(bn.num_features)
    beta = bn.bias.detach().double().numpy() if bn.affine else np.zeros(bn.num_features)
    scale = gamma / np.sqrt(bn.running_var.double().numpy() + bn.eps)
    if (scale == 0).any():
        raise _cannot(name, "a batch-norm weight is exactly zero, which lwtnn's (x + offset) * scale cannot express")
    offset = -bn.running_mean.double().numpy() + beta / scale
    return {"architecture": "normalization", "weights": scale.tolist(), "bias": offset.tolist()}


def _inputs(gen, conditions_in: bool, network_latent: int) -> list[dict]:
    inputs = [{"name": f"z_{i}", "offset": 0.0, "scale": 1.0} for i in range(network_latent)]
    if not conditions_in:
        return inputs
    enc = gen.encoder
    for name, mean, std, width in zip(enc.names, enc.mean, enc.std, enc.widths or [1] * len(enc.names)):
        if name in PASSED_THROUGH:
            inputs += [{"name": f"{name}_{j}", "offset": 0.0, "scale": 1.0} for j in range(width)]
        else:
            label = f"log_{name}" if name in LOG_SCALED else name
            inputs.append({"name": label, "offset": -float(mean), "scale": 1.0 / float(std)})
    inputs += [{"name": f"label_{j}", "offset": 0.0, "scale": 1.0} for j in range(enc.n_classes)]
    return inputs
