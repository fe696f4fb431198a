import numpy as np
import pytest
import torch

from hepgan.data.conditions import ConditionEncoder
from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from hepgan.models.layered.networks import keep_above_threshold
from hepgan.sim import simulate

SMALL = {"width": 32, "depth": 1, "shape_latent": 4, "embedding": 4, "layer_features": 4}


def _fitted(geometry: str, n: int = 200, seed: int = 1):
    data = simulate(geometry=geometry, energy_range_gev=(1, 1000), n_events=n, seed=seed)
    energies = data.incident_energies[:, 0].astype(np.float64)
    encoder = ConditionEncoder(names=["energy"]).fit({"energy": energies})
    cond = torch.from_numpy(encoder.encode({"energy": energies}))
    x = torch.from_numpy((data.showers / energies[:, None]).astype(np.float32))
    config = ModelConfig(family="layered_wgan", latent_dim=8, layered=SMALL)
    model = build_model(config, (x.shape[1],), cond.shape[1], geometry)
    model.fit_data(x, cond, energies)
    return model, x, cond, energies


@pytest.mark.parametrize("geometry", ["calochallenge-1-photons", "calochallenge-2"])
def test_generated_showers_hold_the_layer_energies_and_no_cell_below_threshold(geometry):
    model, x, cond, energies = _fitted(geometry)
    g = get_geometry(geometry)
    torch.manual_seed(0)
    with torch.no_grad():
        fake = model.generate(model.sample_latent(len(cond)), cond)
    assert fake.shape == x.shape
    assert bool((fake >= 0).all()) and bool(torch.isfinite(fake).all())
    cells = fake.numpy() * energies[:, None]
    thresholds = model.scales.threshold.numpy()[g.cell_layer]
    assert np.all((cells == 0) | (cells >= thresholds * (1 - 1e-5)))
    # an untrained generator starts near the data's mean deposited fraction
    assert np.median(fake.sum(1).numpy()) == pytest.approx(np.median(x.sum(1).numpy()), rel=0.3)


def test_fit_reads_the_incident_energy_back_from_the_conditions_and_sets_thresholds():
    model, x, cond, energies = _fitted("calochallenge-1-photons")
    assert np.allclose(model.scales.incident_energy(cond).numpy(), energies, rtol=1e-4)
    g = get_geometry("calochallenge-1-photons")
    cells = x.numpy() * energies[:, None]
    for i, sl in enumerate(g.layer_slices):
        hit = cells[:, sl][cells[:, sl] > 0]
        assert np.mean(hit < model.scales.threshold[i].item()) == pytest.approx(0.01, abs=0.005)


def test_critic_sees_energies_and_cells_and_its_gradient_penalty_runs():
    model, x, cond, _ = _fitted("calochallenge-1-photons")
    g = get_geometry("calochallenge-1-photons")
    view = model.clean_view(x[:16], cond[:16])
    assert view.shape == (16, len(g.layers) + 1 + len(g.layers) * max(g.layer_sizes))
    loss, logs = model.critic_loss(x[:16], cond[:16])
    loss.backward()
    assert {"wasserstein", "gp", "loss_d"} <= set(logs)
    assert all(p.grad is not None for p in model.critics.parameters())


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


def test_an_untrained_generator_already_has_the_deposited_energy_spread_of_the_data():
    """The standardised deposited energy is a noise component plus the network's correction: before
    any training its width given the incident energy is the data's, at low and high energies."""
    model, x, cond, energies = _fitted("calochallenge-2", n=3000)
    n_layers = len(get_geometry("calochallenge-2").layers)
    torch.manual_seed(0)
    with torch.no_grad():
        fake = model.generate(model.sample_latent(len(cond)), cond)
        generated = model.clean_view(fake, cond)[:, n_layers].numpy()
        real = model.clean_view(x, cond)[:, n_layers].numpy()
    for part in (energies < 10_000, energies > 100_000):
        assert generated[part].std() == pytest.approx(real[part].std(), rel=0.25)


def test_threshold_empties_small_cells_and_keeps_each_layer_energy():
    rows = torch.tensor([[[0.50, 0.30, 0.15, 0.05]],   # two cells below 0.2: their energy goes to the others
                         [[0.18, 0.19, 0.17, 0.16]],   # all below, layer above: the largest cell keeps it all
                         [[0.05, 0.04, 0.01, 0.00]]])  # layer below the threshold: emptied
    out = keep_above_threshold(rows, torch.ones(3), torch.tensor([0.2]))
    assert torch.allclose(out[0], torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    assert torch.allclose(out[1], torch.tensor([[0.0, 0.7, 0.0, 0.0]]))
    assert bool((out[2] == 0).all())


def test_needs_the_energy_among_the_conditions():
    data = simulate(geometry="calochallenge-1-photons", energy_range_gev=(1, 1000), n_events=50, seed=1)
    x = torch.from_numpy(data.showers / data.incident_energies.astype(np.float32))
    eta = np.random.default_rng(0).normal(size=(50, 1)).astype(np.float32)
    model = build_model(ModelConfig(family="layered_wgan", layered=SMALL), (x.shape[1],), 1,
                        "calochallenge-1-photons")
    with pytest.raises(ConfigError, match="incident energy as a condition"):
        model.fit_data(x, torch.from_numpy(eta), data.incident_energies[:, 0])


def test_refuses_a_geometry_mismatch_and_a_second_summary_critic():
    with pytest.raises(ConfigError, match="368 cells"):
        build_model(ModelConfig(family="layered_wgan"), (100,), 1, "calochallenge-1-photons")
    with pytest.raises(ConfigError, match="own whole-shower critic"):
        build_model(ModelConfig(family="layered_wgan", summary_critic={}), (368,), 1, "calochallenge-1-photons")
