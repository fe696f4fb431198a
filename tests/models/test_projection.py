"""The projection-discriminator conditional GAN (cgan_proj): heads, losses, conditioning."""

import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from tests.helpers import image_config

G = "CONCAT, DENSE|392|RELU, RESHAPE|8|7|7, TCONV|4|4|4|2|2|1|1|RELU, TCONV|1|4|4|2|2|1|1|TANH"
D = "CONV|8|4|4|2|2|1|1|LEAKYRELU, RESHAPE|FLAT, DENSE|16|LEAKYRELU"


def _model(**projection):
    config = ModelConfig(family="cgan_proj", generator=G, critic=D, latent_dim=8, projection=projection)
    return build_model(config, (1, 28, 28), cond_dim=10)


def test_critic_score_is_linear_head_plus_projection_of_the_label_embedding():
    torch.manual_seed(0)
    model = _model(aux_weight=1.0)
    critic = model.critics["critic"]
    x = torch.randn(5, 1, 28, 28)
    labels = torch.tensor([0, 3, 3, 7, 9])
    cond = torch.nn.functional.one_hot(labels, 10).float()
    logit, aux = critic.scores(x, cond)
    h = critic.features(x)
    expected = critic.linear(h) + (critic.embed.weight.T[labels] * h).sum(1, keepdim=True)
    assert torch.allclose(logit, expected, atol=1e-6)
    assert aux.shape == (5, 10) and torch.equal(critic(x, cond), logit)
    # the label matters: the same image scores differently under another label
    other = torch.nn.functional.one_hot((labels + 1) % 10, 10).float()
    assert not torch.allclose(critic(x, other), logit)


def test_hinge_loss_values_and_aux_classifier_only_when_asked():
    torch.manual_seed(0)
    plain = _model()
    assert plain.critics["critic"].classifier is None
    cond = torch.nn.functional.one_hot(torch.arange(8) % 10, 10).float()
    loss, logs = plain.critic_loss(torch.rand(8, 1, 28, 28) * 2 - 1, cond)
    assert "aux_real" not in logs and loss.item() >= 0.0  # hinge terms are non-negative
    # zero critic weights: D = 0 everywhere, so the hinge loss is exactly 1 + 1
    for p in plain.critics.parameters():
        torch.nn.init.zeros_(p)
    loss, _ = plain.critic_loss(torch.rand(8, 1, 28, 28), cond)
    assert loss.item() == pytest.approx(2.0)
    aux = _model(aux_weight=0.5, loss="bce")
    _, logs_d = aux.critic_loss(torch.rand(8, 1, 28, 28), cond)
    _, logs_g = aux.generator_loss(cond, 8)
    assert logs_d["aux_real"] > 0 and logs_g["aux_fake"] > 0


def test_critic_layout_must_not_concat_and_family_needs_labels():
    with pytest.raises(ConfigError, match="no CONCAT"):
        build_model(ModelConfig(family="cgan_proj", generator=G, critic="CONCAT, " + D, latent_dim=8),
                    (1, 28, 28), cond_dim=10)
    with pytest.raises(ConfigError, match="is conditional"):
        build_model(ModelConfig(family="cgan_proj", generator=G, critic=D, latent_dim=8), (1, 28, 28), cond_dim=0)


def test_aux_classifier_learns_the_classes_in_training(tmp_path, mnist_dir):
    """On the look-alike MNIST (class = blob position) the critic's classifier quickly beats chance."""
    config = load_train_config(image_config(
        tmp_path / "run", mnist_dir, "cgan_proj", G, D, data={"conditional": True},
        model={"projection": {"aux_weight": 1.0}}, optim={"lr_g": 2e-3, "lr_d": 2e-3, "betas": [0.0, 0.9]},
        schedule={"steps": 40, "batch_size": 32, "ema_decay": 0.9}, checkpoint={"every": 40}))
    trainer = Trainer(config)
    first = trainer.train_step()
    result = trainer.fit()
    assert result.steps == 40
    assert result.last_logs["aux_real"] < 0.7 * first["aux_real"]
    sample = trainer.generate(trainer.data.train.cond[:4], 4)
    assert sample.shape == (4, 1, 28, 28) and sample.abs().max() <= 1.0


def test_spectral_norm_bounds_every_scoring_weight_and_leaves_the_classifier_free():
    torch.manual_seed(0)
    model = _model(aux_weight=1.0, spectral_norm=True)
    critic = model.critics["critic"]
    critic.train()
    for _ in range(30):  # power iterations converge over training forward passes
        critic(torch.randn(4, 1, 28, 28), torch.eye(10)[:4])
    normalised = [m for m in critic.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
                  and m is not critic.classifier]
    assert len(normalised) == 4  # conv, dense, linear head, label embedding
    for layer in normalised:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().reshape(layer.weight.shape[0], -1), ord=2)
        assert sigma.item() == pytest.approx(1.0, rel=0.05)
    assert not hasattr(critic.classifier, "parametrizations")
    plain = _model(aux_weight=1.0).critics["critic"]
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())
    # the state survives a save/load round trip (checkpoints, resume)
    clone = _model(aux_weight=1.0, spectral_norm=True).critics["critic"]
    clone.load_state_dict(critic.state_dict())
    clone.eval(), critic.eval()
    x, cond = torch.randn(3, 1, 28, 28), torch.eye(10)[:3]
    assert torch.allclose(clone(x, cond), critic(x, cond))
