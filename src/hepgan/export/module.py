"""The trained generator as one torch module from physical inputs to physical outputs.

:class:`PhysicalGenerator` is what the ONNX graph is traced from: it encodes the conditions
(standardised ln E, standardised eta, alignment passed through, one-hot labels) the way
:class:`~hepgan.data.conditions.ConditionEncoder` does, runs the network, and undoes the
preprocessing with :mod:`hepgan.export.torch_inverse` in float64, so that the graph's output
is MeV (or 0-255 images), matching :meth:`TrainedGenerator.generate`.

:func:`reference_forward` is that method's maths for given latent vectors (torch network,
NumPy inverse): the yardstick every export is verified against.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hepgan.data.conditions import PASSED_THROUGH, LOG_SCALED
from hepgan.errors import ConfigError
from hepgan.export.torch_inverse import torch_inverse
from hepgan.nn.build import Network
from hepgan.nn.layers import MinibatchStd, VirtualBatchNorm
from hepgan.nn.layout import format_layer

OUTPUT_NAMES = {"showers": "showers", "images": "images"}


def layout_network(gen) -> Network:
    """The layout-built network inside the generator (a family may wrap it, e.g. with a head)."""
    for module in gen.network.modules():
        if isinstance(module, Network):
            return module
    raise ConfigError(f"the generator ({type(gen.network).__name__}) has no layout network")


def network_layers(gen) -> list[tuple[str, nn.Module]]:
    """(``"generator layer i (TOKEN)"``, module) for every layer of the generator's layout, in order."""
    net = layout_network(gen)
    return [(f"generator layer {i} ({format_layer(spec)})", block)
            for i, (spec, block) in enumerate(zip(net.layout.layers, net.blocks))]


def check_batch_independent(gen) -> None:
    """A ConfigError naming the first layer whose output depends on the rest of the batch."""
    has_layout = any(isinstance(m, Network) for m in gen.network.modules())
    named = [(name, m) for name, block in network_layers(gen) for m in block.modules()] if has_layout else []
    named += [(f"generator module {name or 'root'} ({type(m).__name__})", m) for name, m in gen.network.named_modules()]
    for name, module in named:
        if isinstance(module, MinibatchStd) or (isinstance(module, VirtualBatchNorm) and not module.has_reference):
            raise ConfigError(f"{name} makes each output depend on the rest of the batch, so the generator "
                              "cannot be exported for arbitrary batch sizes")


class PhysicalGenerator(nn.Module):
    """forward(z, *conditions[, label]) -> showers in MeV (N, n_cells) or images 0..255 (N, C, H, W)."""

    def __init__(self, gen):
        super().__init__()
        self.network = gen.network
        self.kind = gen.kind
        enc = gen.encoder
        self.names = list(enc.names)
        self.n_classes = int(enc.n_classes)
        self.register_buffer("mean", torch.tensor(enc.mean, dtype=torch.float64))
        self.register_buffer("std", torch.tensor(enc.std, dtype=torch.float64))
        self.needs_energies = False
        self.inverse = None
        if gen.kind == "showers" and gen.transform is not None:
            self.inverse = torch_inverse(gen.transform)
            self.needs_energies = bool(gen.transform.needs_energies)
            if self.needs_energies and "energy" not in self.names:
                raise ConfigError("the preprocessing needs the incident energy but the generator is not conditioned on it")

    @property
    def input_names(self) -> list[str]:
        return ["z", *self.names, *(["label"] if self.n_classes else [])]

    @property
    def output_name(self) -> str:
        return OUTPUT_NAMES[self.kind]

    def forward(self, z: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        parts, energies = [], None
        for i, name in enumerate(self.names):
            x = inputs[i].to(torch.float64)
            if name == "energy":
                energies = x
            if name not in PASSED_THROUGH:
                x = ((torch.log(x) if name in LOG_SCALED else x) - self.mean[i]) / self.std[i]
            parts.append(x)
        if self.n_classes:
            label = inputs[len(self.names)].reshape(-1, 1)
            classes = torch.arange(self.n_classes, dtype=label.dtype, device=label.device).reshape(1, -1)
            parts.append((label == classes).to(torch.float64))
        cond = torch.cat(parts, dim=1).to(torch.float32) if parts else None
        x = self._network(z, cond)
        if self.kind == "images":
            return torch.clamp((x + 1.0) * 127.5, 0.0, 255.0)
        flat = x.reshape(x.shape[0], -1).to(torch.float64)
        if self.inverse is not None:
            flat = self.inverse(flat, energies)
        return flat.to(torch.float32)

    def _network(self, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """The generator network, with a batch-size-free final reshape for plain layout networks.

        The model's wrapper reshapes with the batch size as a number, which tracing would freeze.
        """
        net = self.network
        if not all(hasattr(net, a) for a in ("net", "feeds_cond", "out_shape")):
            return net(z, cond)  # a family's own generator module: traced as it is
        if net.feeds_cond:
            out = net.net(torch.cat([z.flatten(1), cond], dim=1))
        else:
            out = net.net(z, cond)
        return out.reshape(-1, *net.out_shape)

    def example_inputs(self, z: np.ndarray, conditions: dict[str, np.ndarray], labels=None) -> tuple[torch.Tensor, ...]:
        """The module's positional inputs for numpy latent vectors, physical conditions and labels."""
        return tuple(torch.from_numpy(a) for a in input_arrays(self.names, self.n_classes, z, conditions, labels).values())


def input_arrays(names: list[str], n_classes: int, z: np.ndarray, conditions: dict[str, np.ndarray] | None,
                 labels=None) -> dict[str, np.ndarray]:
    """The exported model's named inputs: z (N, latent) float32, each condition (N, width) float32, label (N,) int64."""
    from hepgan.errors import DataError

    z = np.ascontiguousarray(z, np.float32)
    out = {"z": z}
    conditions = conditions or {}
    for name in names:
        if name not in conditions:
            raise DataError("<conditions>", f"condition {name!r} is missing; have {sorted(conditions)}")
        out[name] = np.ascontiguousarray(np.asarray(conditions[name], np.float32).reshape(len(z), -1))
    if n_classes:
        if labels is None:
            raise DataError("<conditions>", "this model is class-conditional: labels are required")
        out["label"] = np.ascontiguousarray(np.asarray(labels, np.int64).reshape(len(z)))
    return out


@torch.inference_mode()
def reference_forward(gen, z: np.ndarray, conditions: dict[str, np.ndarray] | None = None, labels=None) -> np.ndarray:
    """:meth:`TrainedGenerator.generate` for given latent vectors: MeV (float64) or 0..255 images."""
    cond = torch.from_numpy(gen.encoder.encode(conditions, labels)) if gen.encoder.dim else None
    x = gen.network(torch.from_numpy(np.ascontiguousarray(z, np.float32)), cond).numpy()
    if gen.kind == "images":
        return np.clip((x + 1.0) * 127.5, 0.0, 255.0)
    flat = x.reshape(len(x), -1).astype(np.float64)
    energies = (conditions or {}).get("energy")
    if gen.transform is not None:
        flat = gen.transform.inverse(flat, None if energies is None else np.asarray(energies, float).reshape(-1, 1))
    return flat
