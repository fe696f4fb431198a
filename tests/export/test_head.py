"""The calorimeter head in an lwtnn file: every stage the calo_wgan recipes use, run by hepgan's
NumPy runtime, against torch; and the refusals of a damaged head."""

import json

import numpy as np
import pytest
import torch

from hepgan.errors import DataError
from hepgan.export.head import Head
from hepgan.export.lwtnn import export_lwtnn
from hepgan.export.module import reference_forward
from hepgan.export.runtime import LwtnnGenerator

QUICKSTART = {"cell_fluctuations": 4.0, "knots": 9, "cell_floor": 0.5, "deposit_shape": "above",
              "deposit_layers": ["strips", "middle", "back"], "deposit_spread": 1.0, "fluctuation_shape": "gamma",
              "calibrate_response": True}


def _trained(tmp_path, shower_file, calo):
    from hepgan.train import Trainer, load_train_config
    from hepgan.train.generator import TrainedGenerator
    from tests.helpers import shower_config
    from tests.models.calo._helpers import CALO_MODEL

    conditions = ["energy", "impact_eta", "alignment", "impact_offset"]
    Trainer(load_train_config(shower_config(tmp_path / "run", shower_file, model={**CALO_MODEL, "calo": calo},
                                            data={"conditions": conditions}, schedule={"steps": 2}))).fit()
    gen = TrainedGenerator.from_run(tmp_path / "run")
    for module in gen.network.modules():  # parameters away from their starting values
        if getattr(module, "width_exponent", None) is not None:
            module.width_exponent.data = torch.tensor([-0.5, 0.1, -0.2, 0.3])
        if getattr(module, "noise_scale", None) is not None:
            module.noise_scale.data = torch.linspace(0.05, 0.5, len(module.noise_scale))
    return gen


@pytest.mark.parametrize("calo", [{}, {"cell_noise": 0.2},
                                  {"cell_fluctuations": 4.0, "knots": 9, "cell_floor": 0.25, "deposit_layers": ["back"]},
                                  {"cell_fluctuations": 4.0, "fluctuation_power": True, "fluctuation_shape": "gamma"},
                                  QUICKSTART, {**QUICKSTART, "calibrate_layers": True}],
                         ids=["plain", "cell-noise", "fluctuations-spline-deposits", "fluctuation-power-gamma",
                              "as-the-quickstart", "layer-calibrated"])
def test_the_flagship_exports_to_lwtnn_and_the_numpy_runtime_reproduces_torch(tmp_path, shower_file, fixed_inputs,
                                                                                calo):
    gen = _trained(tmp_path, shower_file, calo)
    result = export_lwtnn(gen, tmp_path / "g.json")
    assert result.verification["relative"] <= 1e-5
    spec = json.loads((tmp_path / "g.json").read_text())
    post = spec["hepgan_postprocess"]
    stages = [stage["type"] for stage in post["head"]]
    assert "shower_features" in stages and len(spec["outputs"]) == 271  # features, which the head makes cells
    assert ("response_calibration" in stages) == bool(calo.get("calibrate_response"))
    assert ("layer_calibration" in stages) == bool(calo.get("calibrate_layers"))
    assert ("cell_noise" in stages) == bool(calo.get("cell_noise"))
    assert post["network_latent"] + sum(s["noise"][1] for s in post["head"] if "noise" in s) == gen.latent_dim
    z, cond = fixed_inputs(gen, n=40)
    expected = reference_forward(gen, z, cond)
    actual = LwtnnGenerator.load(tmp_path / "g.json").run(z, cond)
    assert actual.shape == (40, 266) and (actual >= 0).all()
    assert np.abs(actual - expected).max() <= 1e-5 * np.abs(expected).max()


def test_a_damaged_head_is_refused_by_stage(tmp_path, shower_file):
    gen = _trained(tmp_path, shower_file, QUICKSTART)
    stages = export_lwtnn(gen).spec["hepgan_postprocess"]["head"]
    with pytest.raises(DataError, match="head stage 1: unknown type 'softmax_head'"):
        Head([stages[0], {"type": "softmax_head"}], 13)
    features = dict(next(s for s in stages if s["type"] == "shower_features"))
    del features["log_eps"]
    with pytest.raises(DataError, match=r"head stage 0 \(shower_features\): missing key 'log_eps'"):
        Head([features], 13)
    features = dict(next(s for s in stages if s["type"] == "shower_features"), mean=[1.0, 2.0])
    with pytest.raises(DataError, match="shower_features.mean must have 2 dimension"):
        Head([features], 13)
    calibration = next(s for s in stages if s["type"] == "response_calibration")
    with pytest.raises(DataError, match="layer_calibration: needs a shower_features stage before it"):
        Head([dict(calibration, type="layer_calibration",
                       **{k: [calibration[k]] * 4 for k in ("knots_in", "knots_out", "tail_slope")})], 13)
