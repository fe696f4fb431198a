"""The layered family's generator and critic networks: energies first, then each layer's shares, and
the threshold that empties cells below a layer's smallest typical deposit."""

import numpy as np
import pytest
import torch

from hepgan.geometry import get_geometry
from hepgan.models.layered.networks import keep_above_threshold
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
