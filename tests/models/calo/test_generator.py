"""The structured generator: body, head, the Gaussian path, and the per-cell noise and fluctuations in its latent."""

import numpy as np
import pytest
import torch

from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from hepgan.train.generator import TrainedGenerator
from tests.helpers import shower_config
from tests.models.calo._helpers import CALO_MODEL


def _redraw_last_latents_keeps_layer_energies(gen, latent_dim, cond, n_redrawn):
    """Generate twice with only the last ``n_redrawn`` latent values redrawn: the layer energies
    must not change, the arrangement of the cells must. Returns the first showers."""
    torch.manual_seed(0)
    z = torch.randn(len(cond), latent_dim)
    other = z.clone()
    other[:, -n_redrawn:] = torch.randn(len(cond), n_redrawn)
    with torch.no_grad():
        a, b = gen(z, cond), gen(other, cond)
    layers = gen.features.layer_matrix
    torch.testing.assert_close(a @ layers, b @ layers, rtol=1e-4, atol=1e-7)  # same layer energies
    assert not torch.allclose(a, b)  # but another arrangement of the cells
    return a


def test_cell_noise_moves_cells_within_their_layer_and_learns_its_scale(tmp_path, shower_file):
    """calo.cell_noise: the latent ends with one value per cell, added to that cell's feature with a
    learned scale; the response and the layer split (the summaries) do not depend on it."""
    model = {**CALO_MODEL, "calo": {"cell_noise": 0.2, "gaussian_path": "summaries"}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 3, "batch_size": 32}))
    trainer = Trainer(config)
    gen, n_cells = trainer.model.generator, 266
    assert trainer.model.latent_dim == 8 + (1 + 4) + n_cells
    assert torch.equal(gen.noise_scale.detach(), torch.full((n_cells,), 0.2))
    cond = trainer.data.train.cond[:64]
    _redraw_last_latents_keeps_layer_energies(gen, trainer.model.latent_dim, cond, n_cells)
    loss, _ = trainer.model.generator_loss(cond, 64)
    (grad,) = torch.autograd.grad(loss, gen.noise_scale)
    assert grad.abs().sum() > 0
    plain = build_model(ModelConfig(**{**CALO_MODEL, "calo": {"gaussian_path": "summaries"}}), (n_cells,), 1,
                        geometry="atlas266")
    assert plain.latent_dim == 8 + 5 and plain.generator.noise_scale is None
    trainer.fit()
    reloaded = TrainedGenerator.from_run(tmp_path / "run")  # the checkpoint carries the learned scales
    assert reloaded.latent_dim == trainer.model.latent_dim
    assert reloaded.generate({"energy": np.full(4, 10_000.0), "impact_eta": np.zeros(4)}).shape == (4, n_cells)


def test_fluctuations_join_the_generator_latent_and_learn_their_scale(tmp_path, shower_file):
    """calo.cell_fluctuations: the latent ends with one value per cell; the layer energies do not
    depend on it, the arrangement of the cells does; the learned scale gets a gradient and is saved."""
    model = {**CALO_MODEL, "calo": {"cell_fluctuations": 4.0, "cell_noise": 0.1, "gaussian_path": "summaries"}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 3, "batch_size": 32}))
    trainer = Trainer(config)
    gen, n_cells = trainer.model.generator, 266
    assert trainer.model.latent_dim == 8 + (1 + 4) + 2 * n_cells  # body, Gaussian path, cell noise, fluctuations
    cond = trainer.data.train.cond[:64]
    a = _redraw_last_latents_keeps_layer_energies(gen, trainer.model.latent_dim, cond, n_cells)
    assert (a >= 0).all()
    loss, _ = trainer.model.generator_loss(cond, 64)
    (grad,) = torch.autograd.grad(loss, gen.fluctuations.log_scale)
    assert grad.abs().sum() > 0
    trainer.fit()
    reloaded = TrainedGenerator.from_run(tmp_path / "run")
    # the checkpoint carries the fitted quantum (a buffer) and the learned scales
    torch.testing.assert_close(reloaded.network.fluctuations.basis_of.mean_coef, gen.fluctuations.basis_of.mean_coef)
    assert reloaded.network.fluctuations.log_scale.shape == (4,)
    assert reloaded.generate({"energy": np.full(4, 10_000.0), "impact_eta": np.zeros(4)}).shape == (4, n_cells)


def test_the_gaussian_path_starts_the_generator_with_the_datas_response_spread(showers):
    """calo.gaussian_path: the last latent values reach the summary features through the Cholesky
    factor of their covariance in the training data, so a generator whose body outputs nothing yet
    makes the response with the data's width (1, standardised); without the path it has none."""
    x, energies = showers
    log_e = np.log(energies)
    cond = torch.from_numpy(((log_e - log_e.mean()) / log_e.std())[:, None].astype(np.float32))
    x = torch.from_numpy(x.astype(np.float32))
    model = build_model(ModelConfig(**CALO_MODEL), (266,), 1, geometry="atlas266")
    gen = model.generator
    assert gen.gaussian_dim == gen.features.n_summary == 5 and model.latent_dim == 8 + 5
    model.fit_data(x, cond)
    with torch.no_grad():
        last = [m for m in gen.body.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.zero_()
        last.bias.zero_()
        summaries = gen.features(x, cond)[:, :5].double()
        assert torch.equal(gen.gaussian, gen.gaussian.tril())
        torch.testing.assert_close(gen.gaussian.double() @ gen.gaussian.double().T,
                                   torch.cov(summaries.T) + 1e-4 * torch.eye(5, dtype=torch.float64),
                                   rtol=1e-4, atol=1e-5)
        many = cond.repeat(30, 1)
        torch.manual_seed(0)
        response = gen.features(gen(torch.randn(len(many), model.latent_dim), many), many)[:, 0]
        assert float(response.std()) == pytest.approx(1.0, abs=0.05) and abs(float(response.mean())) < 0.05
        gen.gaussian.zero_()
        flat = gen.features(gen(torch.randn(len(many), model.latent_dim), many), many)[:, 0]
        assert float(flat.std()) < 0.01  # the body alone starts at the conditional mean shower
