"""The layered family (the CaloChallenge recipes) in an lwtnn file: the energy network as lwtnn
layers, the rest as the layered_shower head stage, run by hepgan's NumPy runtime against torch."""

import numpy as np
import pytest
import torch

from hepgan.data.transforms import Pipeline, transform_from_dict
from hepgan.errors import DataError
from hepgan.export.lwtnn import export_lwtnn
from hepgan.export.module import reference_forward
from hepgan.export.runtime import LwtnnGenerator
from hepgan.train.generator import TrainedGenerator
from hepgan.train import load_train_config
from tests.helpers import shower_config
from tests.models.layered._helpers import SMALL, fitted


def layered_generator(geometry: str, empty: bool = False, cell_noise: bool = False) -> TrainedGenerator:
    """A fitted layered_wgan generator with random (not freshly initialised) weights; with
    ``empty``, showers without energy from 60 % at the lowest energies to none at the highest."""
    from hepgan.data.conditions import ConditionEncoder

    model, x, cond, energies = fitted(geometry, cell_noise=cell_noise)
    if empty:
        model.scales.empty_fraction.copy_(torch.linspace(0.6, 0.0, model.scales.empty_fraction.shape[1])[None])
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(0.1 * torch.randn_like(p))
    transform = Pipeline([transform_from_dict({"type": "EnergyNormalize"})])
    transform.fit(x.numpy() * energies[:, None], energies[:, None])
    encoder = ConditionEncoder(names=["energy"]).fit({"energy": energies})
    config = load_train_config(shower_config(
        "unused-run", "unused.h5", data={"path": None, "conditions": ["energy"],
                                         "simulate": {"geometry": geometry, "energy_range_gev": [1, 1000],
                                                      "n_events": 200}},
        model={"family": "layered_wgan", "latent_dim": 8, "layered": {**SMALL, "cell_noise": cell_noise}}))
    network = model.generator.eval().requires_grad_(False)
    return TrainedGenerator(network, model.latent_dim, encoder, transform, (x.shape[1],), geometry, "showers",
                            config, 0)


@pytest.mark.parametrize(("geometry", "empty", "cell_noise"), [
    ("calochallenge-1-photons", False, False), ("calochallenge-2", False, False), ("calochallenge-1-pions", True, False),
    ("calochallenge-1-photons", False, True), ("calochallenge-1-pions", True, True)])
def test_a_layered_generator_exports_and_the_numpy_runtime_reproduces_torch(geometry, empty, cell_noise):
    gen = layered_generator(geometry, empty, cell_noise)
    result = export_lwtnn(gen)
    assert result.verification["relative"] <= 1e-5
    post = result.spec["hepgan_postprocess"]
    stage = post["head"][0]
    assert stage["type"] == "layered_shower" and post["network_latent"] == gen.network.shower_latent
    n_layers = len(stage["layer_sizes"])
    assert len(result.spec["outputs"]) == n_layers + 1  # the energy network: deposited energy and split
    rng = np.random.default_rng(5)
    z = rng.standard_normal((30, gen.latent_dim)).astype(np.float32)
    conditions = {"energy": np.geomspace(1e3, 1e6, 30)}
    expected = reference_forward(gen, z, conditions)
    actual = LwtnnGenerator(result.spec).run(z, conditions)
    assert actual.shape == expected.shape and (actual >= 0).all()
    assert np.abs(actual - expected).max() <= 1e-5 * np.abs(expected).max()
    np.testing.assert_allclose(actual.sum(axis=1), expected.sum(axis=1), rtol=1e-5)
    assert (expected.sum(axis=1) == 0).any() == empty  # showers without energy where asked for


def test_a_damaged_layered_stage_is_refused():
    spec = export_lwtnn(layered_generator("calochallenge-1-photons")).spec
    stage = spec["hepgan_postprocess"]["head"][0]
    with pytest.raises(DataError, match="layered_shower: cell_log_share has shape"):
        LwtnnGenerator({**spec, "hepgan_postprocess": {**spec["hepgan_postprocess"],
                                                       "head": [dict(stage, cell_log_share=[[0.0]])]}})
    with pytest.raises(DataError, match="layered_shower: cell_noise must be true or false, got 'yes'"):
        LwtnnGenerator({**spec, "hepgan_postprocess": {**spec["hepgan_postprocess"],
                                                       "head": [dict(stage, cell_noise="yes")]}})
    with pytest.raises(DataError, match="layered_shower: missing key 'embedding'"):
        LwtnnGenerator({**spec, "hepgan_postprocess": {**spec["hepgan_postprocess"],
                                                       "head": [{k: v for k, v in stage.items() if k != "embedding"}]}})


def test_a_stage_written_before_cell_noise_reads_as_one_without_it():
    spec = export_lwtnn(layered_generator("calochallenge-1-photons")).spec
    stage = spec["hepgan_postprocess"]["head"][0]
    assert stage["cell_noise"] is False
    older = {**spec, "hepgan_postprocess": {**spec["hepgan_postprocess"],
                                            "head": [{k: v for k, v in stage.items() if k != "cell_noise"}]}}
    runtime = LwtnnGenerator(spec)
    z = np.random.default_rng(2).standard_normal((10, runtime.info.latent_dim)).astype(np.float32)
    conditions = {"energy": np.geomspace(1e3, 1e6, 10)}
    np.testing.assert_array_equal(LwtnnGenerator(older).run(z, conditions), runtime.run(z, conditions))
