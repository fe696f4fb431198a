"""Wasserstein GANs with gradient penalty (Gulrajani et al.), plain and conditional, with the
ATLAS FastCaloGAN study's fix for the energy resolution: a second critic that sees physics summaries.

The summary critic sees the total and per-layer sums of the (model-space) cells. Its gradient
penalty, when any, is taken with the summaries as independent inputs, so the penalty does not
flow back through the sums into the cells; the generator still learns through them. The sums are
energies when the model space is linear in cell energy (e.g. EnergyNormalize preprocessing).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models.base import GANModel, _value
from hepgan.models.losses import gradient_penalty, wasserstein_critic_loss
from hepgan.nn.layers import MinibatchStd, VirtualBatchNorm


# layers whose output for one sample depends on the others in its batch (in training)
BATCH_COUPLED = (nn.BatchNorm1d, nn.BatchNorm2d, VirtualBatchNorm, MinibatchStd)


class WGANGP(GANModel):
    family = "wgan_gp"

    def __init__(self, config, sample_shape, cond_dim, geometry=None):
        super().__init__(config, sample_shape, cond_dim, geometry)
        if config.summary_critic is not None:
            if geometry is None:
                raise ConfigError("model.summary_critic needs shower data on a known geometry")
            g = get_geometry(geometry)
            if len(sample_shape) != 1 or sample_shape[0] != g.n_cells:
                raise ConfigError(
                    f"model.summary_critic sums cells per layer: it needs model-space samples of {g.n_cells} cells "
                    f"(geometry {geometry!r}), got shape {sample_shape}"
                )
            matrix = np.zeros((g.n_cells, len(g.layers) + 1), np.float32)
            matrix[:, 0] = 1.0
            matrix[np.arange(g.n_cells), 1 + g.cell_layer] = 1.0
            self.register_buffer("summary_matrix", torch.from_numpy(matrix))
            self.critics["summary"] = self._build(config.summary_critic.layout, (matrix.shape[1],), (1,), "summary_critic")

    def summaries(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1 + n_layers): total and per-layer sums of model-space cells."""
        return x.reshape(x.shape[0], -1) @ self.summary_matrix

    # -- what the critics see (families that describe showers differently override these) --------
    def clean_view(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """What the main critic sees of samples ``x`` before instance noise (the samples here)."""
        return x

    def critic_view(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """The main critic's input for samples ``x``."""
        return self.critic_input(self.clean_view(x, cond))

    def summary_view(self, view: torch.Tensor) -> torch.Tensor:
        """The summary critic's input, from the main critic's."""
        return self.summaries(view)

    @torch.no_grad()
    def fake_views(self, conds, n):
        # one draw per batch (torchrun shards each batch-sized draw)
        latents = [self.sample_latent(n) for _ in conds]
        if any(isinstance(m, BATCH_COUPLED) for m in self.generator.modules()):
            # its samples depend on the batch they are made in: one pass per batch
            return [self.critic_view(self.generate(z, c), c) for z, c in zip(latents, conds)]
        cond = None if conds[0] is None else torch.cat(conds)
        views = self.clean_view(self.generate(torch.cat(latents), cond), cond).split(n)
        return [self.critic_input(v) for v in views]

    def critic_loss(self, real, cond, penalty=True, real_view=None, fake_view=None):
        """``real_view``: the batch's rows of :meth:`fixed_real_views`; ``fake_view``: one batch
        of :meth:`fake_views` (made here when not given)."""
        with torch.no_grad():
            real_in = self.critic_view(real, cond) if real_view is None else self.critic_input(real_view)
        fake_in = self.fake_views([cond], real.shape[0])[0] if fake_view is None else fake_view
        critic = self.critics["critic"]
        w_loss = wasserstein_critic_loss(critic(real_in, cond), critic(fake_in, cond))
        loss = w_loss
        logs = {"wasserstein": -_value(w_loss)}
        lazy = self.config.gp_every  # a penalty on every k-th update only counts k times
        if penalty and self.config.gp_weight > 0:
            gp = gradient_penalty(critic, real_in, fake_in, cond)
            loss = loss + lazy * self.config.gp_weight * gp
            logs["gp"] = _value(gp)
        if "summary" in self.critics:
            sc, cfg = self.critics["summary"], self.config.summary_critic
            s_real, s_fake = self.summary_view(real_in), self.summary_view(fake_in)
            s_loss = wasserstein_critic_loss(sc(s_real, cond), sc(s_fake, cond))
            loss = loss + cfg.loss_weight * s_loss
            logs["wasserstein_summary"] = -_value(s_loss)
            if penalty and cfg.gp_weight > 0:
                s_gp = gradient_penalty(sc, s_real, s_fake, cond)
                loss = loss + lazy * cfg.gp_weight * s_gp
                logs["gp_summary"] = _value(s_gp)
        logs["loss_d"] = _value(loss)
        return loss, logs

    def generator_loss(self, cond, n):
        view = self.critic_view(self.generate(self.sample_latent(n), cond), cond)
        return self.adversarial_generator_loss(view, cond)

    def adversarial_generator_loss(self, view, cond):
        """The critics' (negated) scores of generated samples, given as the critics see them."""
        loss = -self.critics["critic"](view, cond).mean()
        if "summary" in self.critics:
            loss = loss - self.config.summary_critic.loss_weight * self.critics["summary"](self.summary_view(view), cond).mean()
        return loss, {"loss_g": _value(loss)}


class ConditionalWGANGP(WGANGP):
    """WGAN-GP with continuous conditions (log energy, impact position) or labels."""

    family = "cwgan_gp"
    needs_conditions = True
