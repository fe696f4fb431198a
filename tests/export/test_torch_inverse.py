"""The torch inverses reproduce the NumPy ones, and new transforms can add theirs."""

import numpy as np
import pytest
import torch

from hepgan.data.transforms import (
    EnergyNormalize,
    LayerFractions,
    LogitTransform,
    LogTransform,
    Pipeline,
    Standardize,
    Transform,
)
from hepgan.errors import ConfigError
from hepgan.export.torch_inverse import _INVERSES, register_torch_inverse, torch_inverse
from hepgan.sim import simulate


def _fitted(transform):
    data = simulate(energies_gev=[2.0, 32.0], events_per_energy=15, seed=1)
    return transform.fit(data.showers.astype(float), data.incident_energies), data


def _torch(module, y, energies):
    with torch.no_grad():
        return module(torch.from_numpy(y), torch.from_numpy(energies)).numpy()


@pytest.mark.parametrize("make", [
    lambda: Pipeline([EnergyNormalize(2.0)]),
    lambda: Pipeline([EnergyNormalize(), LogTransform(1e-4), Standardize()]),
    lambda: Pipeline([EnergyNormalize(), LayerFractions("atlas266")]),
    lambda: Pipeline([EnergyNormalize(), LayerFractions("atlas266"), LogitTransform(1e-5)]),
], ids=["energy", "log-standardize", "layer-fractions", "fractions-logit"])
def test_torch_inverse_matches_numpy_including_clipping(make):
    transform, data = _fitted(make())
    energies = data.incident_energies.astype(float)
    y = transform.forward(data.showers.astype(float), energies)
    y = y + np.random.default_rng(0).normal(0, 0.5, y.shape)  # generator-like: off the data manifold
    expected = transform.inverse(y, energies)
    actual = _torch(torch_inverse(transform), y, energies)
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
    assert (actual == 0).sum() == (expected == 0).sum()  # cells clipped to empty stay empty


def test_a_transform_without_a_torch_inverse_is_named_and_new_ones_take_a_few_lines():
    class Doubling(Transform):
        def _forward(self, x, energies):
            return 2 * x

        def _inverse(self, y, energies):
            return y / 2

    with pytest.raises(ConfigError, match=r"transform Doubling has no torch inverse.*register_torch_inverse\(Doubling\)"):
        torch_inverse(Pipeline([EnergyNormalize(), Doubling()]))

    @register_torch_inverse(Doubling)
    class _DoublingInverse(torch.nn.Module):
        def __init__(self, t):
            super().__init__()

        def forward(self, y, energies):
            return y / 2

    try:
        y = np.arange(6.0).reshape(2, 3)
        e = np.array([[1.0], [4.0]])
        transform = Pipeline([EnergyNormalize(), Doubling()])
        np.testing.assert_allclose(_torch(torch_inverse(transform), y, e), transform.inverse(y, e))
    finally:
        del _INVERSES[Doubling]
