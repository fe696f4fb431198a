"""Generators for the export tests, built in memory in milliseconds (no training), plus one real run.

``make_generator`` gives a TrainedGenerator with random (non-default) weights, a condition
encoder fitted on atlas266-like conditions, and a fitted preprocessing pipeline, so every part
of the export is exercised with values that are not trivially 0 or 1.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hepgan.data.conditions import ConditionEncoder
from hepgan.data.transforms import Pipeline, transform_from_dict
from hepgan.geometry import get_geometry
from hepgan.models import build_model
from hepgan.nn.layers import Swish
from hepgan.sim import simulate
from hepgan.train import Trainer, load_train_config
from hepgan.train.generator import TrainedGenerator
from tests.helpers import image_config, shower_config

SIM = {"geometry": "atlas266", "energies_gev": [2.0, 8.0, 32.0], "events_per_energy": 10}
SMALL_MLP = "CONCAT, DENSE|24|SWISH, BNORM, DENSE|24|LEAKYRELU:0.1, DENSE|266|SOFTPLUS"


def _perturb(network: torch.nn.Module, seed: int) -> None:
    """Non-default Swish betas and batch-norm statistics, so that the export must carry them."""
    gen = torch.Generator().manual_seed(seed)
    for module in network.modules():
        if isinstance(module, Swish):
            module.beta.data.fill_(0.5 + float(torch.rand(1, generator=gen)))
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
            module.running_var.copy_(0.5 + torch.rand(n, generator=gen))
            module.weight.data.copy_(1 + 0.1 * torch.randn(n, generator=gen))
            module.bias.data.copy_(0.1 * torch.randn(n, generator=gen))


def make_generator(generator: str = SMALL_MLP, *, conditions=("energy", "impact_eta", "alignment"),
                   preprocessing=({"type": "EnergyNormalize"},), latent_dim: int = 8, seed: int = 0) -> TrainedGenerator:
    config = load_train_config(shower_config(
        "unused-run", "unused.h5", data={"path": None, "simulate": SIM, "conditions": list(conditions)},
        preprocessing=[dict(p) for p in preprocessing], model={"generator": generator, "latent_dim": latent_dim},
    ))
    data = simulate(energies_gev=[2.0, 8.0, 32.0], events_per_energy=20, seed=seed)
    energies = data.incident_energies[:, 0].astype(float)
    physical = {"energy": energies, **{k: v[:, 0] for k, v in data.conditions.items()}}
    physical["alignment"] = get_geometry("atlas266").alignment(physical, len(energies))
    encoder = ConditionEncoder(names=list(conditions)).fit(physical)
    transform = Pipeline([transform_from_dict(dict(p)) for p in preprocessing])
    transform.fit(data.showers.astype(float), energies[:, None])
    torch.manual_seed(seed)
    model = build_model(config.model, (transform.output_dim or 266,), encoder.dim, "atlas266")
    network = model.generator
    _perturb(network, seed)
    network.eval().requires_grad_(False)
    return TrainedGenerator(network, latent_dim, encoder, transform, (transform.output_dim or 266,), "atlas266",
                            "showers", config, 0)


def make_image_generator(generator: str, *, conditional: bool = True, family: str = "cgan",
                         seed: int = 0) -> TrainedGenerator:
    config = load_train_config(image_config("unused-run", "unused-mnist", family, generator,
                                            "DENSE|8|LEAKYRELU, DENSE|1|SIGMOID",
                                            data={"conditional": conditional}))
    encoder = ConditionEncoder(n_classes=10 if conditional else 0)
    torch.manual_seed(seed)
    network = build_model(config.model, (1, 28, 28), encoder.dim, None).generator
    _perturb(network, seed)
    network.eval().requires_grad_(False)
    return TrainedGenerator(network, config.model.latent_dim, encoder, None, (1, 28, 28), None, "images", config, 0)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, shower_file):
    """A real (two-step) training run on atlas266 conditioned on energy, impact_eta and alignment."""
    run = tmp_path_factory.mktemp("export") / "run"
    config = shower_config(run, shower_file, data={"conditions": ["energy", "impact_eta", "alignment"]},
                           model={"generator": "CONCAT, DENSE|32|SWISH, DENSE|266|SOFTPLUS"},
                           schedule={"steps": 2}, checkpoint={"every": 2})
    Trainer(load_train_config(config)).fit()
    return run


@pytest.fixture
def fixed_inputs():
    """A fixed batch of latent vectors and physical atlas266 conditions."""
    def make(gen, n: int = 5, seed: int = 4):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, gen.latent_dim)).astype(np.float32)
        conditions = {"energy": np.geomspace(2e3, 32e3, n), "impact_eta": rng.uniform(0.2, 0.25, n),
                      "impact_phi": rng.uniform(0.0, 0.098, n)}
        for name in ("alignment", "impact_offset"):
            conditions[name] = get_geometry("atlas266").derived_condition(name, conditions, n)
        return z, conditions
    return make
