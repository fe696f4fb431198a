"""Every preset parses, builds with its intended shapes, and names resolve."""

from __future__ import annotations

import pytest
import torch

from hepgan.errors import HepganError
from hepgan.nn.build import build_network
from hepgan.nn.layout import format_gan_layout, parse_gan_layout, parse_layout
from hepgan.nn.presets import PRESET_SHAPES, PRESETS, get_preset, list_presets, resolve_layout


def test_required_presets_exist():
    for name in ["mlp-gan-g", "mlp-gan-d", "calo-g", "calo-d", "dcgan-shallow", "dcgan-medium",
                 "dcgan-deep", "mlp-gan", "calo"]:
        assert name in list_presets()
    assert list_presets() == sorted(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESET_SHAPES))
def test_every_network_preset_builds_with_its_shapes(name):
    shape = PRESET_SHAPES[name]
    net = build_network(get_preset(name), shape.input_shape, shape.cond_dim)
    assert net.output_shape == shape.output_shape
    torch.manual_seed(0)
    cond = torch.rand(4, shape.cond_dim) if shape.cond_dim else None
    out = net(torch.randn(4, *shape.input_shape), cond)
    assert out.shape == (4, *shape.output_shape) and torch.isfinite(out).all()
    if name.endswith("-g") and name != "calo-g":
        assert out.abs().max() <= 1  # TANH output
    if name.endswith("-d") and name != "calo-d":
        assert ((out >= 0) & (out <= 1)).all()  # SIGMOID output


@pytest.mark.parametrize("name", ["mlp-gan", "dcgan-shallow", "dcgan-medium", "dcgan-deep", "calo"])
def test_pairs_are_gan_layouts_of_their_halves(name):
    generator, discriminator = parse_gan_layout(get_preset(name))
    assert generator == parse_layout(get_preset(f"{name}-g"))
    assert discriminator == parse_layout(get_preset(f"{name}-d"))
    assert parse_gan_layout(format_gan_layout(generator, discriminator)) == (generator, discriminator)


@pytest.mark.parametrize(("depth", "wide", "narrow"),
                         [("shallow", 128, 64), ("medium", 256, 128), ("deep", 512, 256)])
def test_dcgan_architecture(depth, wide, narrow):
    g = parse_layout(get_preset(f"dcgan-{depth}-g")).layers
    d = parse_layout(get_preset(f"dcgan-{depth}-d")).layers
    assert [s["depth"] for s in g if s.kind == "CONV"] == [wide, narrow, 1]
    assert [s["depth"] for s in d if s.kind == "CONV"] == [narrow, wide]
    assert g[-1].kind == "CONV" and g[-1]["act"] == "TANH" and g[-2].kind != "BNORM"
    assert d[0].kind == "CONV" and d[1].kind != "BNORM"  # no batch norm at the D input
    assert d[-1]["act"] == "SIGMOID"
    assert sum(s.kind == "BNORM" for s in g) == 3 and sum(s.kind == "BNORM" for s in d) == 1
    assert [s["p"] for s in d if s.kind == "DROPOUT"] == [0.25, 0.25]
    assert any(s.kind == "UPSAMPLE" for s in g)
    assert {s["act"] for s in g if s.kind == "ACT"} == {"RELU"}
    assert d[0]["act"] == "LEAKYRELU:0.2" and any(s.kind == "LEAKYRELU" and s["slope"] == 0.2 for s in d)


def test_calo_presets():
    g = parse_layout(get_preset("calo-g")).layers
    d = parse_layout(get_preset("calo-d")).layers
    assert [s["units"] for s in g if s.kind == "DENSE"] == [256, 512, 512, 266]
    assert [s["act"] for s in g if s.kind == "DENSE"][:3] == ["SWISH"] * 3
    assert [s["units"] for s in d if s.kind == "DENSE"] == [512, 512, 256, 1]
    assert d[-1]["act"] == "LINEAR"


def test_get_preset_and_resolve_layout():
    with pytest.raises(HepganError, match="unknown layout preset 'dcgan-huge'; valid names: calo"):
        get_preset("dcgan-huge")
    assert resolve_layout("dcgan-deep-g") == PRESETS["dcgan-deep-g"]
    assert resolve_layout(" DCGAN-Deep-G ") == PRESETS["dcgan-deep-g"]
    assert resolve_layout("DENSE|4|RELU") == "DENSE|4|RELU"
