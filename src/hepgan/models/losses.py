"""Adversarial losses and the gradient penalty, as pure functions of critic outputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-7


def bce_critic_loss(real_prob: torch.Tensor, fake_prob: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """Discriminator cross-entropy on probabilities; ``real_label`` < 1 is one-sided label smoothing."""
    real = F.binary_cross_entropy(real_prob.clamp(EPS, 1 - EPS), torch.full_like(real_prob, real_label))
    return real + bce_fake_loss(fake_prob)


def bce_fake_loss(prob: torch.Tensor) -> torch.Tensor:
    """Discriminator cross-entropy for samples that must be called fake."""
    return F.binary_cross_entropy(prob.clamp(EPS, 1 - EPS), torch.zeros_like(prob))


def non_saturating_generator_loss(fake_prob: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the generator loss that does not vanish when D wins early."""
    return -torch.log(fake_prob.clamp(EPS, 1.0)).mean()


def wasserstein_critic_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """E[D(fake)] - E[D(real)]."""
    return fake_score.mean() - real_score.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    """E[(||grad D(x_hat)|| - 1)^2] on random interpolates of real and (detached) fake samples."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, dtype=real.dtype, device=real.device)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    score = critic(x_hat, cond)
    (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1.0) ** 2).mean()
