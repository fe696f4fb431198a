"""What the layered family fits before training: the incident energy read back from the conditions,
the layers' thresholds, energies standardised at the incident energy, and the share of showers
without energy."""

import numpy as np
import pytest
import torch

from hepgan.data.conditions import ConditionEncoder
from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from hepgan.models.layered.scales import ShowerScales
from hepgan.sim import simulate
from tests.models.layered._helpers import SMALL, fitted as _fitted


def test_fit_reads_the_incident_energy_back_from_the_conditions_and_sets_thresholds():
    model, x, cond, energies = _fitted("calochallenge-1-photons")
    assert np.allclose(model.scales.incident_energy(cond).numpy(), energies, rtol=1e-4)
    g = get_geometry("calochallenge-1-photons")
    cells = x.numpy() * energies[:, None]
    for i, sl in enumerate(g.layer_slices):
        hit = cells[:, sl][cells[:, sl] > 0]
        assert np.mean(hit < model.scales.threshold[i].item()) == pytest.approx(0.01, abs=0.005)


def test_energy_features_are_standardised_at_each_incident_energy():
    """The deposited fraction varies ~10x less at 1 TeV than at 1 GeV; standardised given the
    energy, it has mean 0 and width 1 at low and at high energies alike."""
    model, x, cond, energies = _fitted("calochallenge-2", n=3000)
    deposited = model.clean_view(x, cond)[:, len(get_geometry("calochallenge-2").layers)].numpy()
    raw = np.log(x.sum(1).numpy())
    for part in (energies < 10_000, energies > 100_000):
        assert abs(deposited[part].mean()) < 0.15
        assert 0.75 < deposited[part].std() < 1.33
    assert raw[energies < 10_000].std() > 4 * raw[energies > 100_000].std()


def test_energy_features_are_standardised_at_every_energy_of_a_discrete_spectrum_ends_included():
    """Dataset 1's 15 energies span 256 MeV-4.2 TeV; a smooth fit in ln E through them overshot at
    both ends (the width of the standardised ln(E_dep / E) was 0.5 at 4 TeV). Measured at each
    energy and interpolated, every energy is standardised."""
    g = get_geometry("calochallenge-1-photons")
    energies_gev = [0.256 * 2**k for k in range(15)]
    data = simulate(geometry="calochallenge-1-photons", energies_gev=energies_gev, events_per_energy=60, seed=3)
    energies = data.incident_energies[:, 0].astype(np.float64)
    encoder = ConditionEncoder(names=["energy"]).fit({"energy": energies})
    cond = torch.from_numpy(encoder.encode({"energy": energies}))
    x = torch.from_numpy((data.showers / energies[:, None]).astype(np.float32))
    model = build_model(ModelConfig(family="layered_wgan", latent_dim=8, layered=SMALL), (x.shape[1],), 1,
                        "calochallenge-1-photons")
    model.fit_data(x, cond, energies)
    deposited = model.clean_view(x, cond)[:, len(g.layers)].numpy()
    for e in np.unique(energies):
        here = deposited[energies == e]
        assert abs(here.mean()) < 0.05 and 0.9 < here.std() < 1.1, (e, here.mean(), here.std())


def test_needs_the_energy_among_the_conditions():
    data = simulate(geometry="calochallenge-1-photons", energy_range_gev=(1, 1000), n_events=50, seed=1)
    x = torch.from_numpy(data.showers / data.incident_energies.astype(np.float32))
    eta = np.random.default_rng(0).normal(size=(50, 1)).astype(np.float32)
    model = build_model(ModelConfig(family="layered_wgan", layered=SMALL), (x.shape[1],), 1,
                        "calochallenge-1-photons")
    with pytest.raises(ConfigError, match="incident energy as a condition"):
        model.fit_data(x, torch.from_numpy(eta), data.incident_energies[:, 0])


def test_showers_without_energy_are_counted_per_energy_and_left_out_of_every_other_constant():
    energies = np.repeat([1000.0, 2000.0, 4000.0, 8000.0], 4)
    log_e = np.log(energies)
    cond = ((log_e - log_e.mean()) / log_e.std())[:, None]
    rows = np.random.default_rng(1).uniform(0.05, 0.15, (16, 2, 3))
    empty = np.zeros(16, bool)
    empty[[0, 1, 4]] = True  # half the 1 GeV showers, a quarter of the 2 GeV ones
    rows[empty] = 0.0
    scales = ShowerScales(n_layers=2, width=3, cond_dim=1)
    scales.fit(rows, cond, energies, np.ones((2, 3), bool))
    at = torch.tensor([1000.0, 2000.0, 4000.0, 8000.0])
    torch.testing.assert_close(scales.empty_probability(at).squeeze(1), torch.tensor([0.5, 0.25, 0.0, 0.0]))
    full = ShowerScales(n_layers=2, width=3, cond_dim=1)
    full.fit(rows[~empty], cond[~empty], energies[~empty], np.ones((2, 3), bool))
    torch.testing.assert_close(scales.energy_mean, full.energy_mean)
    with pytest.raises(ConfigError, match="no training shower holds any energy"):
        scales.fit(rows * 0, cond, energies, np.ones((2, 3), bool))


def test_a_checkpoint_of_the_cubic_standardisation_is_refused_with_a_clear_message():
    scales = ShowerScales(n_layers=2, width=3, cond_dim=1)
    state = {k: v for k, v in scales.state_dict().items() if k != "energy_knots"}
    state["energy_mean"] = torch.zeros(3, 4)
    state["energy_log_var"] = torch.zeros(3, 4)
    with pytest.raises(ConfigError, match="cubic polynomials in ln E.*retrain the run"):
        ShowerScales(n_layers=2, width=3, cond_dim=1).load_state_dict(state)


def test_a_checkpoint_from_before_showers_without_energy_loads_with_none():
    scales = ShowerScales(n_layers=2, width=3, cond_dim=1)
    scales.empty_fraction.fill_(0.5)
    state = {k: v for k, v in ShowerScales(n_layers=2, width=3, cond_dim=1).state_dict().items() if k != "empty_fraction"}
    scales.load_state_dict(state)
    assert bool((scales.empty_fraction == 0).all())
