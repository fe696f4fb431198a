"""Convolutional generators in an lwtnn file: the dense prefix as lwtnn layers, the rest as the
image_network head stage, run by hepgan's NumPy runtime against torch; damaged stages refused."""

import numpy as np
import pytest

from hepgan.errors import ConfigError, DataError
from hepgan.export.image_layers import ImageNetwork
from hepgan.export.lwtnn import export_lwtnn, to_lwtnn
from hepgan.export.module import reference_forward
from hepgan.export.runtime import LwtnnGenerator
from tests.export.conftest import make_generator, make_image_generator

MNIST_BEST = ("CONCAT, DENSE|6272|LINEAR, BNORM, ACT|RELU, RESHAPE|128|7|7, TCONV|64|4|4|2|2|1|1|LINEAR, BNORM, "
              "ACT|RELU, TCONV|1|4|4|2|2|1|1|TANH")


@pytest.mark.parametrize(("family", "conditional", "layout", "kinds"), [
    ("cgan_proj", True, MNIST_BEST, ["reshape", "tconv", "normalization", "activation", "tconv", "activation"]),
    ("cgan", True, "CONCAT, DENSE|392|LINEAR, RESHAPE|8|7|7, UPSAMPLE|2, CONV|4|3|3|1|1|1|1|LEAKYRELU:0.1, BNORM, "
                   "UPSAMPLE|2, CONV|1|3|3|1|1|1|1|TANH",
     ["reshape", "upsample", "conv", "activation", "normalization", "upsample", "conv", "activation"]),
    ("dcgan", False, "DENSE|392|LINEAR, RESHAPE|8|7|7, UPSAMPLE|2|BILINEAR, CONV|4|3|3|2|2|1|1|SWISH, "
                     "TCONV|2|3|3|2|2|1|1|ELU|1, UPSAMPLE|2, CONV|1|5|5|1|1|2|2|SOFTPLUS",
     ["reshape", "upsample", "conv", "activation", "tconv", "activation", "upsample", "conv", "activation"]),
], ids=["mnist-best", "upsample-conv", "bilinear-strided"])
def test_a_convolutional_image_generator_exports_and_runs_as_torch(family, conditional, layout, kinds):
    gen = make_image_generator(layout, conditional=conditional, family=family)
    result = export_lwtnn(gen)
    assert result.verification["relative"] <= 1e-5
    post = result.spec["hepgan_postprocess"]
    assert [stage["type"] for stage in post["head"]] == ["image_network"]
    assert [layer["type"] for layer in post["head"][0]["layers"]] == kinds
    assert all(layer["architecture"] in ("dense", "normalization") for layer in result.spec["layers"])
    z = np.random.default_rng(2).standard_normal((10, gen.latent_dim)).astype(np.float32)
    labels = np.arange(10) if conditional else None
    images = LwtnnGenerator(result.spec).run(z, labels=labels)
    expected = reference_forward(gen, z, labels=labels)
    assert images.shape == (10, 1, 28, 28) and images.min() >= 0 and images.max() <= 255
    assert np.abs(images - expected).max() <= 1e-5 * np.abs(expected).max()


def test_a_conditional_shower_generator_with_a_convolution_exports(fixed_inputs):
    gen = make_generator("CONCAT, DENSE|98|RELU, RESHAPE|2|7|7, CONV|3|3|3|1|1|1|1|TANH, RESHAPE|FLAT, "
                         "DENSE|266|SOFTPLUS")
    spec = to_lwtnn(gen)
    assert [layer["type"] for layer in spec["hepgan_postprocess"]["head"][0]["layers"]] == [
        "reshape", "conv", "activation", "flatten", "dense", "activation"]
    z, conditions = fixed_inputs(gen, n=5)
    expected = reference_forward(gen, z, conditions)
    actual = LwtnnGenerator(spec).run(z, conditions)
    assert np.abs(actual - expected).max() <= 1e-5 * np.abs(expected).max()


def test_conditions_after_a_convolution_are_refused_by_layer():
    with pytest.raises(ConfigError, match=r"generator layer 3 \(CONCAT\).*conditions enter after a convolution"):
        to_lwtnn(make_generator("DENSE|98|RELU, RESHAPE|2|7|7, CONV|2|3|3|1|1|1|1|TANH, CONCAT, "
                                "RESHAPE|FLAT, DENSE|266|SOFTPLUS"))


@pytest.mark.parametrize(("layer", "message"), [
    ({"type": "pool"}, "layer 0: unknown type 'pool'"),
    ({"type": "conv", "weights": [[1.0]], "bias": [0.0], "stride": [1, 1], "padding": [0, 0]},
     "layer 0: conv weights must have 4 dimensions"),
    ({"type": "activation", "function": "mish"}, "layer 0: unknown activation 'mish'"),
    ({"type": "dense", "weights": [[1.0, "x"]], "bias": [0.0]}, "layer 0: weights and bias must be numbers"),
    ({"type": "upsample", "factor": 2, "mode": "cubic"}, "mode nearest or bilinear"),
    ({"type": "normalization", "weights": [1.0]}, "layer 0: missing key 'bias'"),
])
def test_a_damaged_image_network_is_refused_by_layer(layer, message):
    with pytest.raises(DataError, match=message):
        ImageNetwork([layer], "g.json")
