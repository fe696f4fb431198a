"""Named layouts for the architectures the project compares, so configs can say ``dcgan-deep``.

A preset is nothing but a layout string. Names ending in ``-g`` / ``-d`` are one network
(generator / discriminator or critic); the name without the suffix is the GAN pair
``G ## D``. :data:`PRESET_SHAPES` records what each was designed for: input shape, condition
length and output shape.

* ``mlp-gan``: the vanilla fully-connected GAN for 28x28 images (100-dim noise; G 256-512-1024-784
  ending in TANH and reshaped to 1x28x28, D 512-256-1 ending in SIGMOID; LEAKYRELU 0.2 hidden).
* ``dcgan-shallow`` / ``-medium`` / ``-deep``: DCGANs for 28x28x1 with generator convolutions
  128-64, 256-128 and 512-256. Batch norm everywhere except the generator's output and the
  discriminator's input; ReLU in G, LEAKYRELU 0.2 in D; TANH / SIGMOID outputs; DROPOUT 0.25 in
  D. G projects the noise to 7x7 and doubles twice with UPSAMPLE + CONV rather than TCONV:
  nearest-neighbour upsampling followed by a convolution avoids the checkerboard artefacts of
  strided transposed convolutions.
* ``calo``: MLPs for the 266-cell ATLAS window, conditioned (CONCAT at the input) on e.g. the
  incident energy: G 256-512-512-266 with SWISH and a LINEAR output (the generator works in the
  preprocessed space, whose inverse transform clips to physical showers); critic 512-512-256-1
  with LEAKYRELU and a LINEAR output (a Wasserstein critic).
"""

from __future__ import annotations

from typing import NamedTuple

from hepgan.errors import HepganError, unknown_name_error


class PresetShape(NamedTuple):
    """What a preset network was designed for (shapes without the batch dimension)."""

    input_shape: tuple[int, ...]
    cond_dim: int
    output_shape: tuple[int, ...]


NOISE_DIM = 100
IMAGE = (1, 28, 28)
CALO_CELLS = 266


def _dcgan_generator(wide: int, narrow: int) -> str:
    return ", ".join([
        f"DENSE|{wide * 49}|LINEAR", "BNORM", "ACT|RELU", f"RESHAPE|{wide}|7|7",
        "UPSAMPLE|2", f"CONV|{wide}|3|3|1|1|1|1|LINEAR", "BNORM", "ACT|RELU",
        "UPSAMPLE|2", f"CONV|{narrow}|3|3|1|1|1|1|LINEAR", "BNORM", "ACT|RELU",
        "CONV|1|3|3|1|1|1|1|TANH",
    ])


def _dcgan_discriminator(wide: int, narrow: int) -> str:
    return ", ".join([
        f"CONV|{narrow}|4|4|2|2|1|1|LEAKYRELU:0.2", "DROPOUT|0.25",
        f"CONV|{wide}|4|4|2|2|1|1|LINEAR", "BNORM", "LEAKYRELU|0.2", "DROPOUT|0.25",
        "RESHAPE|FLAT", "DENSE|1|SIGMOID",
    ])


PRESETS: dict[str, str] = {
    "mlp-gan-g": "DENSE|256|LEAKYRELU:0.2, DENSE|512|LEAKYRELU:0.2, DENSE|1024|LEAKYRELU:0.2, "
                 "DENSE|784|TANH, RESHAPE|1|28|28",
    "mlp-gan-d": "DENSE|512|LEAKYRELU:0.2, DENSE|256|LEAKYRELU:0.2, DENSE|1|SIGMOID",
    "calo-g": "CONCAT, DENSE|256|SWISH, DENSE|512|SWISH, DENSE|512|SWISH, DENSE|266|LINEAR",
    "calo-d": "CONCAT, DENSE|512|LEAKYRELU:0.2, DENSE|512|LEAKYRELU:0.2, DENSE|256|LEAKYRELU:0.2, "
              "DENSE|1|LINEAR",
}
PRESET_SHAPES: dict[str, PresetShape] = {
    "mlp-gan-g": PresetShape((NOISE_DIM,), 0, IMAGE),
    "mlp-gan-d": PresetShape(IMAGE, 0, (1,)),
    "calo-g": PresetShape((NOISE_DIM,), 1, (CALO_CELLS,)),
    "calo-d": PresetShape((CALO_CELLS,), 1, (1,)),
}
for _depth, (_wide, _narrow) in {"shallow": (128, 64), "medium": (256, 128), "deep": (512, 256)}.items():
    PRESETS[f"dcgan-{_depth}-g"] = _dcgan_generator(_wide, _narrow)
    PRESETS[f"dcgan-{_depth}-d"] = _dcgan_discriminator(_wide, _narrow)
    PRESET_SHAPES[f"dcgan-{_depth}-g"] = PresetShape((NOISE_DIM,), 0, IMAGE)
    PRESET_SHAPES[f"dcgan-{_depth}-d"] = PresetShape(IMAGE, 0, (1,))
for _name in [n[:-2] for n in PRESETS if n.endswith("-g")]:
    PRESETS[_name] = f"{PRESETS[_name + '-g']} ## {PRESETS[_name + '-d']}"


def list_presets() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str) -> str:
    """The layout string of preset ``name``."""
    if name not in PRESETS:
        raise HepganError(unknown_name_error("layout preset", name, list(PRESETS)))
    return PRESETS[name]


def resolve_layout(text_or_name: str) -> str:
    """A config's layout value: a preset name becomes its string, a layout string is kept."""
    key = text_or_name.strip()
    return PRESETS.get(key, PRESETS.get(key.lower(), text_or_name))


__all__ = ["PRESETS", "PRESET_SHAPES", "PresetShape", "get_preset", "list_presets", "resolve_layout"]
