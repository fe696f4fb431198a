"""The adversarial losses and the gradient penalty, against their textbook values."""

import math

import pytest
import torch

from hepgan.models.losses import (
    bce_critic_loss,
    bce_fake_loss,
    gradient_penalty,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
)


def test_cross_entropies_of_known_probabilities():
    real, fake = torch.tensor([0.9, 0.6]), torch.tensor([0.2, 0.5])
    fake_part = -(math.log(0.8) + math.log(0.5)) / 2
    assert bce_fake_loss(fake).item() == pytest.approx(fake_part, rel=1e-6)
    assert bce_critic_loss(real, fake).item() == pytest.approx(-(math.log(0.9) + math.log(0.6)) / 2 + fake_part,
                                                               rel=1e-6)
    # one-sided label smoothing: real samples aim at 0.9, generated ones still at 0
    smoothed = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1) + 0.9 * math.log(0.6) + 0.1 * math.log(0.4)) / 2
    assert bce_critic_loss(real, fake, real_label=0.9).item() == pytest.approx(smoothed + fake_part, rel=1e-6)
    assert non_saturating_generator_loss(fake).item() == pytest.approx(-(math.log(0.2) + math.log(0.5)) / 2,
                                                                       rel=1e-6)


def test_certain_probabilities_give_finite_losses_and_gradients():
    """A critic that is sure (p = 0 or 1) must not make the loss or its gradient infinite."""
    prob = torch.tensor([0.0, 1.0], requires_grad=True)
    for loss in (bce_critic_loss(prob, prob), non_saturating_generator_loss(prob)):
        (grad,) = torch.autograd.grad(loss, prob)
        assert math.isfinite(loss.item()) and torch.isfinite(grad).all()
    assert non_saturating_generator_loss(torch.tensor([0.0])).item() == pytest.approx(-math.log(1e-7), rel=1e-3)


def test_wasserstein_loss_is_the_difference_of_mean_scores():
    real, fake = torch.tensor([[1.0], [3.0]]), torch.tensor([[-2.0], [0.0], [4.0]])
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(2 / 3 - 2.0)


class _Linear(torch.nn.Module):
    """D(x) = w . x (+ nothing from the conditions): its gradient is w at every point."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float32))

    def forward(self, x, cond):
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("w, expected", [([0.6, 0.8, 0.0, 0.0], 0.0), ([3.0, 0.0, 4.0, 0.0], 16.0)])
def test_gradient_penalty_of_a_linear_critic_is_its_gradient_norm_minus_one_squared(w, expected):
    critic = _Linear(w)
    real, fake = torch.randn(64, 2, 2), torch.randn(64, 2, 2, requires_grad=True)
    gp = gradient_penalty(critic, real, fake, None)
    assert gp.item() == pytest.approx(expected, abs=1e-5)
    gp.backward()  # the penalty trains the critic: d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
    norm = math.hypot(*w)
    torch.testing.assert_close(critic.w.grad, 2 * (norm - 1) * torch.tensor(w) / norm)
    assert fake.grad is None  # and never the generator: the fake samples are detached
