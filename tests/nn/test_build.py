"""Building networks: shape inference through every layer type, errors at the right token."""

from __future__ import annotations

import math

import pytest
import torch

from hepgan.errors import ConfigError, HepganError
from hepgan.nn.build import Network, build_network
from hepgan.nn.layers import ConcatCondition, MinibatchStd, Swish, VirtualBatchNorm
from hepgan.nn.layout import (
    ACTIVATIONS, LayerSpec, LayoutError, NetworkLayout, parse_gan_layout, parse_layout,
)

SEED = "CONV|12|2|2|1|1|TANH, MAXPOOL|6|6|1|1, RESHAPE|1|1|9408|FLAT, DENSE|512|TANH"


def run(net: Network, batch: int = 3, cond: torch.Tensor | None = None) -> torch.Tensor:
    torch.manual_seed(0)
    out = net(torch.randn(batch, *net.input_shape), cond)
    assert out.shape == (batch, *net.output_shape)
    assert torch.isfinite(out).all()
    return out


def test_seed_example_builds_on_34x34():
    net = build_network(SEED, (1, 34, 34))
    assert net.layer_shapes == ((12, 33, 33), (12, 28, 28), (9408,), (512,))
    assert net.output_shape == (512,) and net.input_shape == (1, 34, 34)
    run(net)


def test_seed_example_on_28x28_points_at_the_reshape():
    with pytest.raises(LayoutError) as info:
        build_network(SEED, (1, 28, 28))
    error = info.value
    column = SEED.index("RESHAPE")
    assert error.column == column and error.token == "RESHAPE|1|1|9408|FLAT"
    message = str(error)
    assert "RESHAPE|1|1|9408|FLAT expects 9408 values but receives 5808 (12x22x22)" in message
    assert message.endswith(f"  {SEED}\n  {' ' * column}{'^' * len(error.token)}")


def test_seed_gan_halves_build_and_point_into_the_whole_string():
    text = SEED + " ## DENSE|128|RELU, RESHAPE|2|8|9, DENSE|1|SIGMOID"
    generator, discriminator = parse_gan_layout(text)
    assert build_network(generator, (1, 34, 34)).output_shape == (512,)
    with pytest.raises(LayoutError) as info:
        build_network(discriminator, (512,))
    assert info.value.column == text.index("RESHAPE|2|8|9")
    assert "expects 144 values but receives 128 (128)" in str(info.value)


@pytest.mark.parametrize(("layout", "input_shape", "shapes"), [
    ("DENSE|16|RELU", (8,), [(16,)]),
    ("DENSE|16", (2, 3, 4), [(16,)]),  # implicit flatten
    ("CONV|5|3|3|2|2|1|1|RELU", (2, 9, 9), [(5, 5, 5)]),
    ("CONV|4|3|5", (1, 10, 10), [(4, 8, 6)]),
    ("TCONV|4|4|4|2|2|1|1|RELU", (3, 7, 7), [(4, 14, 14)]),
    ("TCONV|4|3|3|2|2|1|1|RELU|1", (3, 7, 7), [(4, 14, 14)]),
    ("TCONV|4|3|3|2|2|1|1|RELU, TCONV|1|4|4|2|2|1|1|TANH", (3, 7, 7), [(4, 13, 13), (1, 26, 26)]),
    ("MAXPOOL|2|2|2|2", (3, 8, 8), [(3, 4, 4)]),
    ("MAXPOOL|3|3", (3, 8, 8), [(3, 6, 6)]),
    ("UPSAMPLE|2, CONV|8|3|3|1|1|1|1|RELU, UPSAMPLE|2|BILINEAR, CONV|1|3|3|1|1|1|1|TANH",
     (16, 7, 7), [(16, 14, 14), (8, 14, 14), (8, 28, 28), (1, 28, 28)]),
    ("RESHAPE|4|2|3", (24,), [(4, 2, 3)]),
    ("RESHAPE|4|2|3", (2, 4, 3), [(4, 2, 3)]),
    ("RESHAPE|4|2|3|FLAT", (2, 4, 3), [(24,)]),
    ("RESHAPE|FLAT", (2, 4, 3), [(24,)]),
    ("RESHAPE|FLAT", (7,), [(7,)]),
    ("BNORM, LAYERNORM, VBN, DROPOUT|0.5, LEAKYRELU, ACT|SWISH", (6,), [(6,)] * 6),
    ("BNORM|0.99|0.001, LAYERNORM, VBN, DROPOUT|0.5, LEAKYRELU|0.1, ACT|GAUSS", (2, 3, 3),
     [(2, 3, 3)] * 6),
    ("MINIBATCHSTD", (6,), [(7,)]),
    ("MINIBATCHSTD|2", (2, 3, 3), [(3, 3, 3)]),
])
def test_output_shapes(layout, input_shape, shapes):
    net = build_network(layout, input_shape)
    assert list(net.layer_shapes) == shapes
    net.train()
    run(net, batch=4)
    net.eval()
    run(net, batch=4)


def test_dcgan_style_doubling_with_tconv_and_with_upsample():
    tconv = build_network("DENSE|392|RELU, RESHAPE|8|7|7, TCONV|4|4|4|2|2|1|1|RELU, "
                          "TCONV|1|4|4|2|2|1|1|TANH", (10,))
    upsample = build_network("DENSE|392|RELU, RESHAPE|8|7|7, UPSAMPLE|2, CONV|4|3|3|1|1|1|1|RELU, "
                             "UPSAMPLE|2, CONV|1|3|3|1|1|1|1|TANH", (10,))
    for net in (tconv, upsample):
        assert [s[1:] for s in net.layer_shapes if len(s) == 3][-1] == (28, 28)
        assert (7, 7) in [s[1:] for s in net.layer_shapes if len(s) == 3]
        assert (14, 14) in [s[1:] for s in net.layer_shapes if len(s) == 3]
        out = run(net)
        assert out.abs().max() <= 1


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation_builds_and_runs(act):
    run(build_network(f"DENSE|5|{act}, ACT|{act}", (3,)))


def test_activation_modules():
    net = build_network("DENSE|4|LEAKYRELU:0.1, DENSE|4|LINEAR, LEAKYRELU|0.3", (2,))
    leaky = [m for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert [m.negative_slope for m in leaky] == [0.1, 0.3]
    assert isinstance(net.blocks[1], torch.nn.Linear)  # LINEAR adds no module


def test_concat_condition_flat_and_image():
    flat = build_network("CONCAT, DENSE|8|RELU", (5,), cond_dim=3)
    assert flat.layer_shapes[0] == (8,)
    run(flat, cond=torch.randn(3, 3))
    image = build_network("CONV|4|3|3|1|1|1|1|RELU, CONCAT, CONV|2|3|3", (1, 6, 6), cond_dim=2)
    assert image.layer_shapes[1] == (6, 6, 6)
    run(image, cond=torch.randn(3, 2))
    x = torch.randn(2, 5)
    assert not torch.equal(flat(x, torch.zeros(2, 3)), flat(x, torch.ones(2, 3)))
    with pytest.raises(HepganError, match="pass the condition"):
        flat(x)
    with pytest.raises(HepganError, match="no CONCAT"):
        build_network("DENSE|4", (5,))(x, torch.zeros(2, 3))


def test_embed_turns_a_class_index_into_a_vector():
    net = build_network("EMBED|10|6, DENSE|4|RELU", (1,))
    assert net.layer_shapes == ((6,), (4,))
    out = net(torch.tensor([[2.0], [2.0], [9.0]]))
    assert out.shape == (3, 4) and torch.allclose(out[0], out[1])
    assert not torch.allclose(out[0], out[2])


def test_vbn_network_output_independent_of_the_rest_of_the_batch():
    torch.manual_seed(0)
    net = build_network("DENSE|16|LINEAR, VBN, ACT|RELU, DENSE|8|LINEAR, VBN, ACT|TANH", (5,))
    net.set_reference_batch(torch.randn(64, 5))
    vbns = [m for m in net.modules() if isinstance(m, VirtualBatchNorm)]
    assert len(vbns) == 2 and all(v.has_reference for v in vbns)
    x = torch.randn(10, 5)
    other = x.clone()
    other[1:] = torch.randn(9, 5) * 4 + 2
    assert torch.equal(net(x)[0], net(other)[0])
    assert torch.allclose(net(x[:1])[0], net(x)[0], atol=1e-6)
    assert net.training  # mode restored


def test_vbn_image_network_with_reference_and_condition():
    torch.manual_seed(0)
    net = build_network("CONCAT, CONV|4|3|3|1|1|1|1|LINEAR, VBN, ACT|RELU", (1, 5, 5), cond_dim=1)
    net.set_reference_batch(torch.randn(16, 1, 5, 5), torch.randn(16, 1))
    x, cond = torch.randn(4, 1, 5, 5), torch.randn(4, 1)
    other_x, other_cond = x.clone(), cond.clone()
    other_x[1:], other_cond[1:] = 3.0, -2.0
    assert torch.equal(net(x, cond)[0], net(other_x, other_cond)[0])


def test_minibatch_std_in_a_discriminator():
    net = build_network("DENSE|8|RELU, MINIBATCHSTD, DENSE|1|SIGMOID", (4,))
    assert net.layer_shapes == ((8,), (9,), (1,))
    assert isinstance(net.blocks[1], MinibatchStd)
    run(net)


def test_swish_beta_trains_inside_a_network():
    net = build_network("DENSE|8|SWISH, DENSE|1|LINEAR", (3,))
    swish = [m for m in net.modules() if isinstance(m, Swish)]
    assert len(swish) == 1
    assert any(p is swish[0].beta for p in net.parameters())
    net(torch.randn(5, 3)).sum().backward()
    assert swish[0].beta.grad is not None and float(swish[0].beta.grad.abs()) > 0


def test_to_layout_round_trip():
    text = ("conv|12|2|2|1|1|relu, maxpool|6|6, reshape|1|1|9408|flat, dense|64|leakyrelu, "
            "bnorm, dropout|0.25, concat, dense|1|sigmoid")
    net = build_network(text, "1|34|34", cond_dim=2)
    canonical = net.to_layout()
    assert canonical.startswith("CONV|12|2|2|1|1|0|0|RELU, MAXPOOL|6|6|1|1, ")
    assert parse_layout(canonical) == net.layout == parse_layout(text)
    assert build_network(canonical, (1, 34, 34), cond_dim=2).to_layout() == canonical


def test_glorot_init():
    net = build_network("CONV|4|3|3|1|1|1|1|RELU, TCONV|2|2|2|2|2|0|0|RELU, DENSE|7|RELU", (3, 5, 5),
                        init="glorot")
    layers = [m for m in net.modules()
              if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(layers) == 3
    for layer in layers:
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.5 * bound  # uniform over the whole range
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
    default = build_network("DENSE|7", (3,))
    assert default.blocks[0][0].bias.abs().sum() > 0  # PyTorch's default: non-zero bias


def test_bnorm_momentum_is_tmva_convention():
    net = build_network("BNORM|0.99|0.001, BNORM|-1|1e-5", (4,))
    first, second = net.blocks
    assert first.momentum == pytest.approx(0.01) and first.eps == 0.001
    assert second.momentum is None


def caret_of(error: LayoutError, text: str) -> None:
    assert str(error).endswith(f"  {text}\n  {' ' * error.column}{'^' * len(error.token)}")


@pytest.mark.parametrize(("layout", "input_shape", "cond_dim", "token", "fragments"), [
    ("DENSE|64|RELU, CONV|4|3|3", (10,), 0, "CONV|4|3|3",
     ["CONV needs an image input", "flat vector of 64 values", "add RESHAPE|C|H|W"]),
    ("TCONV|4|3|3", (10,), 0, "TCONV|4|3|3", ["TCONV needs an image"]),
    ("MAXPOOL|2|2", (10,), 0, "MAXPOOL|2|2", ["MAXPOOL needs an image"]),
    ("UPSAMPLE|2", (10,), 0, "UPSAMPLE|2", ["UPSAMPLE needs an image"]),
    ("CONV|4|5|5", (1, 4, 4), 0, "CONV|4|5|5", ["non-positive size 4x0x0 from 1x4x4"]),
    ("CONV|4|3|3, MAXPOOL|9|9|1|1", (1, 8, 8), 0, "MAXPOOL|9|9|1|1", ["non-positive"]),
    ("TCONV|2|1|1|1|1|3|3", (1, 4, 4), 0, "TCONV|2|1|1|1|1|3|3", ["non-positive"]),
    ("RESHAPE|2|2|2", (7,), 0, "RESHAPE|2|2|2", ["expects 8 values but receives 7 (7)"]),
    ("DENSE|4, CONCAT", (7,), 0, "CONCAT", ["CONCAT needs a condition", "cond_dim=0"]),
    ("EMBED|10|4", (3,), 0, "EMBED|10|4", ["EMBED needs a flat input", "receives 3"]),
    ("EMBED|10|4", (1, 2, 2), 0, "EMBED|10|4", ["receives 1x2x2"]),
])
def test_build_errors(layout, input_shape, cond_dim, token, fragments):
    with pytest.raises(LayoutError) as info:
        build_network(layout, input_shape, cond_dim)
    assert info.value.token == token and info.value.column == layout.index(token)
    for fragment in fragments:
        assert fragment in str(info.value)
    caret_of(info.value, layout)


def test_a_width_expression_is_evaluated_for_the_network_s_number_of_inputs():
    # TMVA's N is the number of input variables: a generator's latent size, a critic's cells
    generator, critic = parse_gan_layout("DENSE|(N+100)*2|TANH, DENSE|N*2 ## DENSE|(N+30)/2|RELU, DENSE|1|LINEAR")
    assert build_network(generator, (64,)).layer_shapes == ((328,), (128,))
    assert build_network(generator, (16,)).layer_shapes == ((232,), (32,))
    assert build_network(critic, (1, 5, 5)).layer_shapes == ((27,), (1,))  # N = 25 values; 27.5 truncated


def test_a_width_expression_below_one_points_at_itself_in_the_whole_gan_string():
    text = "DENSE|N*4|RELU ## DENSE|N/2-50|RELU, DENSE|1|SIGMOID"
    _, critic = parse_gan_layout(text)
    build_network(critic, (128,))
    with pytest.raises(LayoutError) as info:
        build_network(critic, (64,))
    assert (info.value.column, info.value.token) == (text.index("N/2-50"), "N/2-50")
    assert "is -18 for N = 64 inputs" in str(info.value)
    caret_of(info.value, text)


def test_build_error_of_a_layout_made_in_code_points_into_its_canonical_text():
    layout = NetworkLayout((
        LayerSpec("DENSE", (("units", 6), ("act", "RELU"))),
        LayerSpec("RESHAPE", (("depth", 1), ("height", 2), ("width", 2), ("flat", False))),
    ))
    with pytest.raises(LayoutError) as info:
        build_network(layout, (3,))
    assert (info.value.column, info.value.token) == (14, "RESHAPE|1|2|2")
    caret_of(info.value, "DENSE|6|RELU, RESHAPE|1|2|2")


def test_bad_arguments():
    with pytest.raises(ConfigError, match="no CONCAT"):
        build_network("DENSE|4", (3,), cond_dim=2)
    with pytest.raises(ConfigError, match="valid names: default, glorot"):
        build_network("DENSE|4", (3,), init="he")
    with pytest.raises(ConfigError, match="input_shape"):
        build_network("DENSE|4", (3, 4))
    with pytest.raises(ConfigError, match="input_shape"):
        build_network("DENSE|4", (0,))
    with pytest.raises(ConfigError, match="cond_dim"):
        build_network("CONCAT", (3,), cond_dim=-1)
    with pytest.raises(LayoutError):
        build_network("DENSE|4", "1|x")
    with pytest.raises(LayoutError):
        build_network("DENS|4", (3,))
    net = build_network("DENSE|4", (3,))
    with pytest.raises(HepganError, match=r"expects input of shape \(N, 3\)"):
        net(torch.zeros(2, 4))
    assert isinstance(build_network("CONCAT", (3,), 1).blocks[0], ConcatCondition)
