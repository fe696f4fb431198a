"""lwtnn export: the JSON layout, agreement of hepgan's NumPy runtime with torch, and refusals by layer."""

import json

import numpy as np
import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.export.lwtnn import export_lwtnn, to_lwtnn
from hepgan.export.module import reference_forward
from hepgan.export.runtime import LwtnnGenerator
from tests.export.conftest import SMALL_MLP, make_generator, make_image_generator


def test_mlp_generator_json_layout_and_runtime_match_torch(tmp_path, fixed_inputs):
    gen = make_generator(SMALL_MLP)
    result = export_lwtnn(gen, tmp_path / "g.json")
    spec = json.loads((tmp_path / "g.json").read_text())
    names = [i["name"] for i in spec["inputs"]]
    assert names[:8] == [f"z_{i}" for i in range(8)]
    assert names[8:] == ["log_energy", "impact_eta"] + [f"alignment_{j}" for j in range(6)]
    log_e = spec["inputs"][8]
    assert log_e["offset"] == -gen.encoder.mean[0] and log_e["scale"] == pytest.approx(1 / gen.encoder.std[0])
    assert [layer["architecture"] for layer in spec["layers"]] == ["dense", "normalization", "dense", "dense"]
    dense = spec["layers"][0]
    linear, swish = gen.network.net.blocks[1]
    assert dense["activation"] == {"function": "swish", "alpha": float(swish.beta)} and float(swish.beta) != 1.0
    np.testing.assert_array_equal(np.float32(dense["weights"]), linear.weight.numpy().reshape(-1))  # (out, in) row-major
    assert spec["layers"][2]["activation"] == {"function": "leakyrelu", "alpha": pytest.approx(0.1)}
    assert spec["layers"][3]["activation"] == "linear" and len(spec["outputs"]) == 266
    assert spec["hepgan_postprocess"]["output_activation"] == "softplus"
    assert spec["hepgan_postprocess"]["transform"]["stages"][0]["type"] == "EnergyNormalize"
    assert spec["hepgan"]["trained_range"]["energy"] == [2000.0, 32000.0]
    assert result.verification["relative"] <= 1e-5

    runtime = LwtnnGenerator.load(tmp_path / "g.json")
    z, conditions = fixed_inputs(gen, n=6)
    expected = reference_forward(gen, z, conditions)
    actual = runtime.run(z, conditions)
    assert actual.shape == (6, 266) and np.abs(actual - expected).max() <= 1e-5 * np.abs(expected).max()
    double = LwtnnGenerator.load(tmp_path / "g.json", dtype=np.float64).run(z, conditions)
    assert np.abs(double - expected).max() <= 1e-5 * np.abs(expected).max()


def test_mlp_image_generator_with_class_labels():
    gen = make_image_generator("CONCAT, DENSE|32|RELU, DENSE|784|TANH, RESHAPE|1|28|28")
    runtime = LwtnnGenerator(to_lwtnn(gen))
    z = np.random.default_rng(0).standard_normal((3, gen.latent_dim)).astype(np.float32)
    labels = np.array([1, 7, 7])
    images = runtime.run(z, labels=labels)
    assert runtime.head is None  # the final reshape is lwtnn's flat output, not a head stage
    assert images.shape == (3, 1, 28, 28) and 0 <= images.min() and images.max() <= 255
    np.testing.assert_allclose(images, reference_forward(gen, z, labels=labels), atol=1e-3)


@pytest.mark.parametrize("layout, message", [
    ("CONCAT, DENSE|98|RELU, RESHAPE|2|7|7, MAXPOOL|2|2, RESHAPE|FLAT, DENSE|266|SOFTPLUS",
     r"generator layer 3 \(MAXPOOL\|2\|2\|1\|1\) cannot be expressed in lwtnn: lwtnn has no MaxPool2d"),
    ("CONCAT, DENSE|16|SOFTPLUS, DENSE|266|SOFTPLUS",
     r"generator layer 1 \(DENSE\|16\|SOFTPLUS\) cannot be expressed in lwtnn: lwtnn has no softplus"),
    ("DENSE|16|RELU, CONCAT, DENSE|266|SOFTPLUS", r"generator layer 1 \(CONCAT\) .*conditions enter after the first"),
    ("CONCAT, DENSE|16|RELU, LAYERNORM, DENSE|266|SOFTPLUS", r"generator layer 2 \(LAYERNORM\).*LayerNorm"),
])
def test_layers_lwtnn_cannot_express_are_named(layout, message):
    with pytest.raises(ConfigError, match=message) as info:
        to_lwtnn(make_generator(layout))
    assert "--format onnx" in str(info.value)


def test_a_wrong_json_weight_is_caught_by_the_export_check(monkeypatch):
    gen = make_generator("CONCAT, DENSE|16|TANH, DENSE|266|SOFTPLUS")
    from hepgan.export import lwtnn

    original = lwtnn.to_lwtnn

    def tampered(g, source=""):
        spec = original(g, source)
        spec["layers"][0]["bias"][0] += 0.5
        return spec

    monkeypatch.setattr(lwtnn, "to_lwtnn", tampered)
    with pytest.raises(ConfigError, match="differs from torch"):
        export_lwtnn(gen)
    with torch.no_grad():  # untampered: passes
        assert original(gen)["layers"][0]["activation"] == "tanh"
