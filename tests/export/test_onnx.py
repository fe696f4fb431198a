"""ONNX export: physical conditions in, MeV (or 0..255 images) out, equal to torch at any batch size."""

import json

import numpy as np
import onnx
import pytest
import torch

from hepgan.errors import ConfigError, DataError
from hepgan.export.module import reference_forward
from hepgan.export.onnx import OPSET, export_onnx, onnx_runtime, read_info, run_onnx
from tests.export.conftest import make_generator, make_image_generator

CONV_G = ("CONCAT, DENSE|98|RELU, RESHAPE|2|7|7, UPSAMPLE|2, CONV|4|3|3|1|1|1|1|LINEAR, BNORM, ACT|RELU, "
          "UPSAMPLE|2, CONV|1|3|3|1|1|1|1|TANH")


def _close(actual, expected):
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1e-5 * np.abs(expected).max()


def test_mlp_shower_generator_runs_in_onnxruntime_like_torch(tmp_path, fixed_inputs):
    gen = make_generator(preprocessing=({"type": "EnergyNormalize"}, {"type": "LayerFractions", "geometry": "atlas266"}),
                         generator="CONCAT, DENSE|24|SWISH, BNORM, DENSE|24|LEAKYRELU:0.1, DENSE|270|SOFTPLUS")
    result = export_onnx(gen, tmp_path / "g.onnx")
    assert result.verification["relative"] <= 1e-5 and result.verification["batch"] == 7
    model = onnx.load(str(tmp_path / "g.onnx"))
    assert model.opset_import[0].version == OPSET
    shapes = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert shapes == {"z": ["batch", 8], "energy": ["batch", 1], "impact_eta": ["batch", 1], "alignment": ["batch", 6]}
    assert [o.name for o in model.graph.output] == ["showers"]
    meta = json.loads({p.key: p.value for p in model.metadata_props}["hepgan"])
    assert meta["trained_range"]["energy"] == [2000.0, 32000.0] and meta["extra"]["opset"] == OPSET
    runtime = onnx_runtime(tmp_path / "g.onnx")
    info = read_info(tmp_path / "g.onnx")
    for n in (1, 5):  # dynamic batch, other sizes than the traced and verified ones
        z, conditions = fixed_inputs(gen, n=n, seed=n)
        showers = run_onnx(runtime, info, z, conditions)
        assert showers.dtype == np.float32 and showers.shape == (n, 266)
        _close(showers, reference_forward(gen, z, conditions))


@pytest.mark.parametrize("calo", [{}, {"cell_noise": 0.2}, {"cell_fluctuations": 4.0, "knots": 9, "cell_floor": 0.25,
                                                                  "deposit_layers": ["back"]},
                                  {"cell_fluctuations": 4.0, "knots": 9, "cell_floor": 0.5, "deposit_shape": "above",
                                   "deposit_layers": ["strips", "middle", "back"], "deposit_spread": 1.0},
                                  {"cell_fluctuations": 4.0, "fluctuation_power": True, "fluctuation_shape": "gamma"},
                                  {"cell_fluctuations": 4.0, "knots": 9, "cell_floor": 0.5, "deposit_shape": "above",
                                   "deposit_layers": ["strips", "middle", "back"], "deposit_spread": 1.0,
                                   "fluctuation_shape": "gamma", "calibrate_response": True, "calibrate_layers": True}],
                         ids=["plain", "cell-noise", "fluctuations-spline-deposits", "deposits-above-as-the-recipes",
                              "fluctuation-power-gamma", "gamma-calibrated-as-the-quickstart"])
def test_the_flagship_generator_exports_with_its_structured_head(tmp_path, shower_file, fixed_inputs, calo):
    from hepgan.train import Trainer, load_train_config
    from hepgan.train.generator import TrainedGenerator
    from tests.helpers import shower_config
    from tests.models.calo._helpers import CALO_MODEL

    conditions = ["energy", "impact_eta", "alignment", "impact_offset"]
    Trainer(load_train_config(shower_config(tmp_path / "run", shower_file, model={**CALO_MODEL, "calo": calo},
                                            data={"conditions": conditions}, schedule={"steps": 2}))).fit()
    gen = TrainedGenerator.from_run(tmp_path / "run")
    for module in gen.network.modules():  # exponents as far from 0 as training takes them
        if getattr(module, "width_exponent", None) is not None:
            module.width_exponent.data = torch.tensor([-0.5, 0.1, -0.2, 0.3])
    if calo.get("calibrate_response"):  # fitted after training, so the export carries a real map
        assert not torch.allclose(gen.network.calibration.knots_in, gen.network.calibration.knots_out)
    if calo.get("calibrate_layers"):
        layers = gen.network.layer_calibration
        assert not torch.allclose(layers.knots_in, layers.knots_out)
    result = export_onnx(gen, tmp_path / "g.onnx")
    assert result.verification["relative"] <= 1e-5
    shapes = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
              for i in onnx.load(str(tmp_path / "g.onnx")).graph.input}
    assert shapes["impact_offset"] == ["batch", 2] and shapes["z"] == ["batch", gen.latent_dim]
    z, cond = fixed_inputs(gen, n=6)
    showers = run_onnx(onnx_runtime(tmp_path / "g.onnx"), read_info(tmp_path / "g.onnx"), z, cond)
    _close(showers, reference_forward(gen, z, cond))
    assert (showers >= 0).all()


def test_conditional_conv_image_generator_outputs_0_255_images(tmp_path):
    gen = make_image_generator(CONV_G)
    result = export_onnx(gen, tmp_path / "g.onnx")
    assert result.info.extra["inputs"] == ["z", "label"] and result.info.extra["output"] == "images"
    z = np.random.default_rng(1).standard_normal((4, gen.latent_dim)).astype(np.float32)
    labels = np.array([0, 3, 9, 3])
    images = run_onnx(onnx_runtime(result.data), result.info, z, labels=labels)
    assert images.shape == (4, 1, 28, 28) and images.min() >= 0 and images.max() <= 255
    _close(images, reference_forward(gen, z, labels=labels))
    assert not np.allclose(images[1], images[2])  # the label matters


def test_a_batch_dependent_layer_is_refused_by_name():
    gen = make_generator("CONCAT, DENSE|16|RELU, MINIBATCHSTD, DENSE|266|SOFTPLUS")
    with pytest.raises(ConfigError, match=r"generator layer 2 \(MINIBATCHSTD.*depend on the rest of the batch"):
        export_onnx(gen)


def test_bad_onnx_files_give_one_line_errors(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(DataError, match="not a readable ONNX model") as info:
        read_info(corrupt)
    assert "\n" not in str(info.value)
    foreign = tmp_path / "foreign.onnx"
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    with pytest.raises(DataError, match="not exported by hepgan"):
        read_info(foreign)
    with pytest.raises(DataError, match="no such file"):
        read_info(tmp_path / "missing.onnx")


@pytest.mark.parametrize("cell_noise", [False, True])
def test_the_layered_family_exports_to_onnx(cell_noise):
    from tests.export.test_layered_head import layered_generator

    gen = layered_generator("calochallenge-1-photons", cell_noise=cell_noise)
    result = export_onnx(gen)
    assert result.verification["relative"] <= 1e-5
    z = np.random.default_rng(3).standard_normal((9, gen.latent_dim)).astype(np.float32)
    conditions = {"energy": np.geomspace(300.0, 4e6, 9)}
    _close(run_onnx(onnx_runtime(result.data), result.info, z, conditions), reference_forward(gen, z, conditions))


def test_a_layered_generator_with_showers_without_energy_is_sent_to_the_lwtnn_format():
    from tests.export.test_layered_head import layered_generator

    with pytest.raises(ConfigError, match="showers without energy.*export with --format lwtnn"):
        export_onnx(layered_generator("calochallenge-1-pions", empty=True))
