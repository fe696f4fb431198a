"""What every family inherits: networks built from layouts (fed the conditions when they do not say
where), instance noise, noise injection, condition draws and virtual batch norm's reference batch."""

import pytest
import torch

from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from tests.helpers import image_config
from tests.models._helpers import MLP_D, MLP_G

LINEAR_D = MLP_D.replace("SIGMOID", "LINEAR")


def test_a_network_without_concat_sees_the_conditions_after_its_flat_input():
    model = build_model(ModelConfig(family="cwgan_gp", generator=MLP_G, critic=LINEAR_D), (1, 28, 28), cond_dim=3)
    model.eval()
    z = torch.randn(4, model.latent_dim)
    a, b = torch.zeros(4, 3), torch.tensor([[0.0, 1.0, 0.0]]).repeat(4, 1)
    with torch.no_grad():
        assert model.generate(z, a).shape == (4, 1, 28, 28)
        assert not torch.allclose(model.generate(z, a), model.generate(z, b))
        x = model.generate(z, a)
        assert model.critics["critic"](x, a).shape == (4, 1)
        assert not torch.allclose(model.critics["critic"](x, a), model.critics["critic"](x, b))
    first = [m for m in model.generator.modules() if isinstance(m, torch.nn.Linear)][0]
    assert first.in_features == model.latent_dim + 3


def test_instance_noise_reaches_the_critics_in_training_only():
    model = build_model(ModelConfig(family="wgan_gp", generator=MLP_G, critic=LINEAR_D, instance_noise=0.1),
                        (1, 28, 28), cond_dim=0)
    x = torch.zeros(200, 1, 28, 28)
    torch.manual_seed(0)
    noisy = model.train().critic_input(x)
    assert float(noisy.std()) == pytest.approx(0.1, rel=0.02) and abs(float(noisy.mean())) < 0.003
    assert torch.equal(model.eval().critic_input(x), x)


def test_noise_injection_perturbs_hidden_layers_in_training_only():
    config = ModelConfig(family="gan", generator=MLP_G, critic=MLP_D, noise_injection=0.5)
    model = build_model(config, (1, 28, 28), cond_dim=0)
    z = torch.randn(8, model.latent_dim)
    with torch.no_grad():
        model.train()
        assert not torch.equal(model.generate(z, None), model.generate(z, None))
        model.eval()
        assert torch.equal(model.generate(z, None), model.generate(z, None))
        # the output layer gets none: a generator that is one layer is deterministic in training too
        single = build_model(config.model_copy(update={"generator": "DENSE|784|TANH, RESHAPE|1|28|28"}),
                             (1, 28, 28), cond_dim=0).train()
        assert torch.equal(single.generate(z, None), single.generate(z, None))


def test_generator_conditions_are_drawn_from_the_pool():
    conditional = build_model(ModelConfig(family="cwgan_gp", generator=MLP_G, critic=LINEAR_D), (1, 28, 28), 2)
    pool = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    torch.manual_seed(0)
    drawn = conditional.generator_conditions(pool, 300)
    assert drawn.shape == (300, 2)
    rows = {tuple(r) for r in drawn.tolist()}
    assert rows == {tuple(r) for r in pool.tolist()}  # only rows of the pool, and (in 300 draws) all of them
    unconditional = build_model(ModelConfig(family="wgan_gp", generator=MLP_G, critic=LINEAR_D), (1, 28, 28), 0)
    assert unconditional.generator_conditions(torch.zeros(5, 0), 10) is None


def test_virtual_batch_norm_uses_a_fixed_reference_batch_refreshed_each_update(tmp_path, mnist_dir):
    vbn_g = "DENSE|392|LINEAR, VBN, ACT|RELU, RESHAPE|8|7|7, UPSAMPLE|4, CONV|1|3|3|1|1|1|1|TANH"
    vbn_d = "CONV|8|3|3|2|2|1|1|LINEAR, VBN, LEAKYRELU|0.2, DENSE|1|SIGMOID"
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "dcgan", vbn_g, vbn_d))
    trainer = Trainer(config)
    model = trainer.model
    vbns = [m for m in model.modules() if type(m).__name__ == "VirtualBatchNorm"]
    assert model.uses_vbn and len(vbns) == 2 and all(m.has_reference for m in vbns)
    critic_vbn = [m for m in model.critics.modules() if type(m).__name__ == "VirtualBatchNorm"][0]
    before = critic_vbn.ref_mean.clone()
    trainer.fit()
    assert not torch.equal(before, critic_vbn.ref_mean)  # re-computed with the updated weights
    # an example's critic output does not depend on the rest of its batch
    x = trainer.data.train.x[:8]
    critic = model.critics["critic"]
    assert torch.allclose(critic(x)[:2], critic(x[:2]), atol=1e-6)
