"""The layered family's generator and critic networks: energies first, then each layer's shares, the
threshold that empties cells below a layer's smallest typical deposit, and showers without energy."""

import numpy as np
import pytest
import torch

from hepgan.geometry import get_geometry
from scipy import special, stats

from hepgan.models.layered.networks import keep_above_threshold, split_empty
from tests.models.layered._helpers import SMALL, fitted as _fitted


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


def test_the_threshold_is_in_mev_so_it_acts_at_the_incident_energy():
    """Rows are fractions of the incident energy, the threshold an energy: the same shares are
    emptied at 1 MeV (layer of 1 MeV < 2 MeV) and thinned at 10 MeV (cells of 1.5 and 0.5 MeV go)."""
    rows = torch.tensor([[[0.50, 0.30, 0.15, 0.05]]]).repeat(2, 1, 1)
    out = keep_above_threshold(rows, torch.tensor([1.0, 10.0]), torch.tensor([2.0]))
    assert bool((out[0] == 0).all())
    torch.testing.assert_close(out[1], torch.tensor([[0.625, 0.375, 0.0, 0.0]]))


def test_a_layers_own_noise_moves_only_that_layers_cells_and_never_the_energies():
    """The latent is the shower's noise then each layer's: the energy network sees only the
    shower's, and the shape network draws a layer from that layer's noise alone."""
    model, x, cond, _ = _fitted("calochallenge-1-photons")
    g = get_geometry("calochallenge-1-photons")
    shape = SMALL["shape_latent"]
    assert model.latent_dim == 8 + len(g.layers) * shape
    torch.manual_seed(0)
    z = model.sample_latent(len(cond))
    layer = 2
    other = z.clone()
    other[:, 8 + layer * shape : 8 + (layer + 1) * shape] = torch.randn(len(cond), shape)
    with torch.no_grad():
        a, b = model.generate(z, cond), model.generate(other, cond)
    for i, cells in enumerate(g.layer_slices):
        torch.testing.assert_close(a[:, cells].sum(1), b[:, cells].sum(1), rtol=1e-5, atol=1e-8)
        if i != layer:
            torch.testing.assert_close(a[:, cells], b[:, cells], rtol=0, atol=0)
    assert not torch.allclose(a[:, g.layer_slices[layer]], b[:, g.layer_slices[layer]])


def test_split_empty_draws_empty_showers_at_their_rate_and_leaves_the_others_a_whole_gaussian():
    torch.manual_seed(0)
    z = torch.randn(200_000, 1)
    p = torch.where(torch.arange(200_000)[:, None] < 100_000, 0.3, 0.0)
    noise, holds = split_empty(z, p)
    assert holds[:100_000].mean().item() == pytest.approx(0.7, abs=0.005)
    assert bool((holds[100_000:] == 1).all())
    torch.testing.assert_close(noise[100_000:], z[100_000:], rtol=0, atol=1e-5)  # nothing empty: unchanged
    kept = noise[:100_000][holds[:100_000] == 1].numpy()
    assert stats.kstest(kept, "norm").pvalue > 0.01
    assert bool(torch.isfinite(noise).all())
    # the upper tail is mapped as the formula says, in order
    tail = torch.tensor([[5.0], [5.8], [6.5]])
    mapped, _ = split_empty(tail, torch.full((3, 1), 0.3))
    expected = -special.ndtri(special.ndtr(-tail.double().numpy()) / 0.7)
    np.testing.assert_allclose(mapped.numpy(), expected, rtol=1e-6)
    assert bool((mapped[1:] > mapped[:-1]).all())


def test_showers_without_energy_are_generated_at_the_datas_rate_and_the_critic_sees_them_as_zeros():
    model, x, cond, energies = _fitted("calochallenge-1-photons", n=400)
    empty = torch.arange(len(x)) % 4 == 0  # a quarter of the training showers leave nothing
    x = x * ~empty[:, None]
    model.fit_data(x, cond, energies)
    p = model.scales.empty_probability(torch.from_numpy(energies).float())
    assert p.mean().item() == pytest.approx(0.25, abs=0.02) and float(p.min()) >= 0
    torch.manual_seed(0)
    with torch.no_grad():
        fake = model.generate(model.sample_latent(4000), cond.repeat(10, 1))
        view = model.clean_view(torch.cat([x, fake]), torch.cat([cond, cond.repeat(10, 1)]))
    assert (fake.sum(1) == 0).float().mean().item() == pytest.approx(0.25, abs=0.03)
    assert bool(torch.isfinite(view).all())
    assert bool((view[: len(x)][empty] == 0).all()) and bool((view[: len(x)][~empty] != 0).any(dim=1).all())


def test_cell_noise_redraws_each_cell_around_its_share_by_a_learned_scale():
    """With cell noise the latent ends with one value per cell slot: redrawing it (the shower's and
    layers' noise fixed) moves cells within each layer, never the layer energies, by a spread the
    shape network sets and that the adversarial gradient reaches."""
    model, x, cond, _ = _fitted("calochallenge-1-photons", cell_noise=True)
    g = get_geometry("calochallenge-1-photons")
    cells = model.cells
    head = 8 + len(g.layers) * SMALL["shape_latent"]
    assert model.latent_dim == head + cells.n_layers * cells.width
    torch.manual_seed(0)
    z = model.sample_latent(len(cond))

    def redrawn_spread() -> float:
        other = z.clone()
        other[:, head:] = torch.randn(len(cond), cells.n_layers * cells.width)
        with torch.no_grad():
            a, b = model.generate(z, cond), model.generate(other, cond)
        for part in g.layer_slices:
            torch.testing.assert_close(a[:, part].sum(1), b[:, part].sum(1), rtol=1e-5, atol=1e-8)
        both = (a > 0) & (b > 0)
        return float((a[both].log() - b[both].log()).std())

    small = redrawn_spread()
    assert 0.05 < small < 0.5  # starts near softplus(NOISE_START) = 0.1 per logit (x sqrt 2 for a difference)
    spread_bias = model.generator.shape_net[-1].bias
    with torch.no_grad():
        spread_bias[cells.width :] = 1.0  # softplus(1) = 1.31
    assert redrawn_spread() > 5 * small
    model.generator.zero_grad()
    model.generate(z, cond).pow(2).sum().backward()
    assert float(spread_bias.grad[cells.width :].abs().sum()) > 0
