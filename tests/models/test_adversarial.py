"""The cross-entropy families (gan, dcgan, cgan, cgan_mbl): their losses, label smoothing, the
matching-aware critic and CGAN-MBL's Mahalanobis label balancing."""

import math

import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.models import build_model
from hepgan.models.adversarial import _wrong_labels
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from tests.helpers import image_config
from tests.models._helpers import MLP_D, MLP_G


def _constant_critic(model, prob: float) -> None:
    """Make the critic answer ``prob`` for every input: zero weights, the last bias at logit(prob)."""
    critic = model.critics["critic"]
    with torch.no_grad():
        for p in critic.parameters():
            p.zero_()
        last = [m for m in critic.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.fill_(math.log(prob / (1 - prob)))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_the_losses_are_the_cross_entropies_of_the_critics_probabilities(smoothing):
    """Discriminator: -[(1 - s) ln p + s ln(1 - p)] on real samples (one-sided label smoothing s)
    plus -ln(1 - q) on generated ones; generator: -ln q (non-saturating)."""
    model = build_model(ModelConfig(family="gan", generator=MLP_G, critic=MLP_D, label_smoothing=smoothing),
                        (1, 28, 28), cond_dim=0)
    _constant_critic(model, 0.8)  # p = q = 0.8: the critic cannot tell real from generated
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    loss, logs = model.critic_loss(real, None)
    expected = -((1 - smoothing) * math.log(0.8) + smoothing * math.log(0.2)) - math.log(0.2)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert logs["d_real"] == pytest.approx(0.8) and logs["d_fake"] == pytest.approx(0.8)
    g_loss, g_logs = model.generator_loss(None, 16)
    assert g_loss.item() == pytest.approx(-math.log(0.8), rel=1e-5) == g_logs["loss_g"]


def test_wrong_labels_move_every_row_to_another_class_uniformly():
    torch.manual_seed(0)
    cond = torch.nn.functional.one_hot(torch.full((9000,), 4), 10).float()
    wrong = _wrong_labels(cond)
    assert torch.equal(wrong.sum(1), torch.ones(9000)) and set(wrong.unique().tolist()) == {0.0, 1.0}
    counts = wrong.sum(0)
    assert counts[4] == 0  # never the label it had
    others = torch.cat([counts[:4], counts[5:]])
    assert (others - 1000).abs().max() < 150  # each of the other 9 classes about 1/9 of the time


def _blobs(n_per_class: int, seed: int = 0):
    """Images whose bright 3-row band sits at a row set by the class, with noise: well separated classes."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat(n_per_class)
    x = 0.1 * torch.randn(len(labels), 1, 28, 28, generator=gen) - 1
    for i, c in enumerate(labels.tolist()):
        x[i, 0, 2 * c + 3 : 2 * c + 6, 4:24] += 1.5
    return x, torch.nn.functional.one_hot(labels, 10).float()


def test_mbl_histogram_follows_the_labels_the_fakes_get_and_needs_every_class():
    """Before its fit CGAN-MBL passes the asked-for labels through; fitted, generated images get the
    label of their nearest class centre, and the running histogram moves by (1 - 0.99) towards the
    batch's label counts."""
    config = ModelConfig(family="cgan_mbl", generator=MLP_G, critic=MLP_D, mbl_features=8)
    model = build_model(config, (1, 28, 28), cond_dim=10)
    x, cond = _blobs(20)
    asked = torch.nn.functional.one_hot(torch.full((20,), 7), 10).float()
    assert torch.equal(model.fake_conditions(x[:20], asked), asked)  # not fitted yet
    with pytest.raises(ConfigError, match="every class needs real examples"):
        model.fit_data(x[cond[:, 9] == 0], cond[cond[:, 9] == 0])
    model.fit_data(x, cond)
    threes = x[cond[:, 3] == 1]
    labels = model.fake_conditions(threes, asked[: len(threes)])
    assert torch.equal(labels.argmax(1), torch.full((len(threes),), 3))  # what they look like, not what was asked
    expected = torch.full((10,), 0.1 * 0.99)
    expected[3] += 0.01
    torch.testing.assert_close(model.assigned, expected)


def test_mbl_assigns_labels_by_mahalanobis_distance(tmp_path, mnist_dir):
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "cgan_mbl", MLP_G, MLP_D, model={"mbl_features": 8}))
    trainer = Trainer(config)
    train = trainer.data.train
    assigned = trainer.model.assign_labels(train.x)
    accuracy = (assigned == train.labels).float().mean()
    assert accuracy > 0.9  # real images sit nearest their own class centre
    trainer.model.assigned.copy_(torch.tensor([0.5] + [0.5 / 9] * 9))
    cond = trainer.model.generator_conditions(train.cond, 2000)
    counts = cond.argmax(1).bincount(minlength=10)
    assert counts[0] < counts[1:].min()  # the over-produced class is asked for least

def test_matching_aware_critic_calls_real_images_under_wrong_labels_fake(tmp_path, mnist_dir):
    """mismatch_weight: a third critic pass on the real images, every label moved to another class,
    scored as fake; and the generator is judged under the labels it was asked for, even in CGAN-MBL
    (whose critic learns fakes under the labels they look like)."""
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "cgan_mbl", MLP_G, MLP_D,
                                            model={"mbl_features": 8, "mismatch_weight": 1.0}))
    trainer = Trainer(config)
    model = trainer.model
    seen = []
    model.critics["critic"].register_forward_hook(lambda module, args, out: seen.append(args[1].argmax(1).clone()))
    model.assign_labels = lambda images: torch.full((len(images),), 7)  # what the fakes "look like"
    real, cond = trainer.data.train.x[:64], trainer.data.train.cond[:64]
    _, logs = model.critic_loss(real, cond)
    truth = cond.argmax(1)
    assert len(seen) == 3 and torch.equal(seen[0], truth) and torch.equal(seen[1], torch.full((64,), 7))
    assert (seen[2] != truth).all() and len(seen[2].unique()) > 1 and "d_wrong" in logs
    requested = torch.nn.functional.one_hot(torch.full((64,), 3), 10).float()
    model.generator_loss(requested, 64)
    assert torch.equal(seen[-1], torch.full((64,), 3))

def test_mismatch_weight_needs_class_labels():
    config = ModelConfig(family="cgan", generator=MLP_G, critic=MLP_D, mismatch_weight=1.0)
    with pytest.raises(ConfigError, match="mismatch_weight.*class labels"):
        build_model(config, (1, 28, 28), cond_dim=1)
