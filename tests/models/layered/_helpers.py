"""Shared by the layered family's tests: small network sizes and a model fitted on simulated showers."""

import numpy as np
import torch

from hepgan.data.conditions import ConditionEncoder
from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from hepgan.sim import simulate

SMALL = {"width": 32, "depth": 1, "shape_latent": 4, "embedding": 4, "layer_features": 4}


def fitted(geometry: str, n: int = 200, seed: int = 1, **layered):
    """A layered_wgan model fitted on ``n`` simulated showers; ``layered`` overrides SMALL's options."""
    data = simulate(geometry=geometry, energy_range_gev=(1, 1000), n_events=n, seed=seed)
    energies = data.incident_energies[:, 0].astype(np.float64)
    encoder = ConditionEncoder(names=["energy"]).fit({"energy": energies})
    cond = torch.from_numpy(encoder.encode({"energy": energies}))
    x = torch.from_numpy((data.showers / energies[:, None]).astype(np.float32))
    config = ModelConfig(family="layered_wgan", latent_dim=8, layered={**SMALL, **layered})
    model = build_model(config, (x.shape[1],), cond.shape[1], geometry)
    model.fit_data(x, cond, energies)
    return model, x, cond, energies
