"""The cross-entropy GAN families of the MNIST GAN coursework studies: vanilla GAN, DCGAN, CGAN and CGAN-MBL.

They share one loss (discriminator cross-entropy with optional one-sided label smoothing,
non-saturating generator loss) and differ in their networks (layout presets) and conditioning.
"""

from __future__ import annotations

import torch

from hepgan.errors import ConfigError
from hepgan.models.base import GANModel, _value
from hepgan.models.losses import bce_critic_loss, bce_fake_loss, non_saturating_generator_loss


class VanillaGAN(GANModel):
    """Goodfellow et al.'s GAN with the non-saturating generator loss (conditional if given conditions)."""

    family = "gan"

    def __init__(self, config, sample_shape, cond_dim, geometry=None):
        super().__init__(config, sample_shape, cond_dim, geometry)
        if config.mismatch_weight > 0 and (geometry is not None or cond_dim < 2):
            raise ConfigError("model.mismatch_weight: moving a label to a wrong class needs class labels "
                              "(conditional image data); these conditions are not classes")

    def fit_data(self, x, cond, energies_mev=None):
        self.set_reference_data(x, cond)

    def critic_loss(self, real, cond, penalty=True):
        n = real.shape[0]
        self.refresh_references()
        with torch.no_grad():
            fake = self.generate(self.sample_latent(n), cond)
        critic = self.critics["critic"]
        real_prob = critic(self.critic_input(real), cond)
        fake_prob = critic(self.critic_input(fake), self.fake_conditions(fake, cond))
        loss = bce_critic_loss(real_prob, fake_prob, 1.0 - self.config.label_smoothing)
        logs = {"d_real": _value(real_prob.mean()), "d_fake": _value(fake_prob.mean())}
        if self.config.mismatch_weight > 0 and cond is not None:
            wrong_prob = critic(self.critic_input(real), _wrong_labels(cond))
            loss = loss + self.config.mismatch_weight * bce_fake_loss(wrong_prob)
            logs["d_wrong"] = _value(wrong_prob.mean())
        return loss, {"loss_d": _value(loss), **logs}

    def generator_loss(self, cond, n):
        self.refresh_references()
        fake = self.generate(self.sample_latent(n), cond)
        # judged under the labels it was asked for (CGAN-MBL's critic learns fakes under others)
        prob = self.critics["critic"](self.critic_input(fake), cond)
        loss = non_saturating_generator_loss(prob)
        return loss, {"loss_g": _value(loss)}

    def fake_conditions(self, fake: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor | None:
        """Conditions the critic sees with a generated sample: by default those it was made with."""
        return cond


def _wrong_labels(cond: torch.Tensor) -> torch.Tensor:
    """One-hot labels, each moved to a different class at random."""
    k = cond.shape[1]
    shift = torch.randint(1, k, (cond.shape[0],), device=cond.device)
    return torch.nn.functional.one_hot((cond.argmax(dim=1) + shift) % k, k).to(cond.dtype)


class DCGAN(VanillaGAN):
    """Radford et al.'s deep convolutional GAN: the same losses, convolutional presets."""

    family = "dcgan"


class CGAN(VanillaGAN):
    """Mirza & Osindero's conditional GAN: labels fed to generator and discriminator."""

    family = "cgan"
    needs_conditions = True


class CGANMBL(CGAN):
    """CGAN with Mahalanobis label balancing.

    Real images define class centres and a shared covariance in a PCA feature space. Each
    generated image is labelled by its nearest centre in Mahalanobis distance; the discriminator
    learns generated images under those labels (what they look like, not what was asked for), and
    the generator is asked more often for the classes it produces least (a running histogram of
    assigned labels), which counters mode collapse onto a few classes. The generator's own loss
    judges its images under the labels it was asked for; only with ``mismatch_weight`` > 0 (real
    images under wrong labels are fakes too) does the critic penalise a wrong class, so without it
    the generator ignores its labels (label accuracy 0.10 on MNIST, 0.93 with it).
    """

    family = "cgan_mbl"
    histogram_decay = 0.99

    def __init__(self, config, sample_shape, cond_dim, geometry=None):
        super().__init__(config, sample_shape, cond_dim, geometry)
        k, n_features = cond_dim, int(torch.tensor(sample_shape).prod())
        m = min(config.mbl_features, n_features)
        self.register_buffer("pixel_mean", torch.zeros(n_features))
        self.register_buffer("components", torch.zeros(n_features, m))
        self.register_buffer("centres", torch.zeros(k, m))
        self.register_buffer("precision", torch.eye(m))
        self.register_buffer("assigned", torch.full((k,), 1.0 / k))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit_data(self, x: torch.Tensor, cond: torch.Tensor, energies_mev=None) -> None:
        super().fit_data(x, cond)
        flat = x.reshape(x.shape[0], -1).double()
        labels = cond.argmax(dim=1)
        if len(torch.unique(labels)) < self.cond_dim:
            raise ConfigError("cgan_mbl: every class needs real examples to place its centre")
        mean = flat.mean(0)
        _, _, v = torch.linalg.svd(flat - mean, full_matrices=False)
        comps = v[: self.components.shape[1]].T
        feats = (flat - mean) @ comps
        centres = torch.stack([feats[labels == c].mean(0) for c in range(self.cond_dim)])
        within = feats - centres[labels]
        cov = within.T @ within / max(len(feats) - self.cond_dim, 1)
        cov += 1e-6 * torch.eye(cov.shape[0], dtype=cov.dtype)
        self.pixel_mean.copy_(mean.float())
        self.components.copy_(comps.float())
        self.centres.copy_(centres.float())
        self.precision.copy_(torch.linalg.inv(cov).float())
        self.fitted.fill_(True)

    def assign_labels(self, images: torch.Tensor) -> torch.Tensor:
        """Nearest class centre in Mahalanobis distance, for each image."""
        feats = (images.reshape(images.shape[0], -1) - self.pixel_mean) @ self.components
        diff = feats[:, None, :] - self.centres[None, :, :]
        dist = torch.einsum("nkf,fg,nkg->nk", diff, self.precision, diff)
        return dist.argmin(dim=1)

    def fake_conditions(self, fake, cond):
        if not bool(self.fitted):
            return cond
        with torch.no_grad():
            labels = self.assign_labels(fake)
            counts = torch.bincount(labels, minlength=self.cond_dim).float() / len(labels)
            self.assigned.mul_(self.histogram_decay).add_((1 - self.histogram_decay) * counts)
        return torch.nn.functional.one_hot(labels, self.cond_dim).to(fake.dtype)

    def generator_conditions(self, cond_pool, n):
        weights = 1.0 / (self.assigned + 1e-3)
        labels = torch.multinomial(weights / weights.sum(), n, replacement=True)
        return torch.nn.functional.one_hot(labels, self.cond_dim).float()
