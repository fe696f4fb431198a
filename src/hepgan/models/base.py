"""A GAN family is a recipe: which networks exist, and what each update minimises.

:class:`GANModel` owns the generator and the critics and computes the loss of one critic update
and of one generator update; the trainer owns the optimisers, the data order and the schedule.
Families subclass it and are registered by name (see :mod:`hepgan.models`).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from hepgan.errors import ConfigError
from hepgan.nn import VirtualBatchNorm, build_network, parse_layout, resolve_layout
from hepgan.models.config import ModelConfig


class GANModel(nn.Module):
    """Generator + named critics of one family; subclasses define the losses."""

    family: ClassVar[str] = ""
    needs_conditions: ClassVar[bool] = False

    def __init__(self, config: ModelConfig, sample_shape: tuple[int, ...], cond_dim: int, geometry: str | None = None):
        super().__init__()
        if self.needs_conditions and cond_dim == 0:
            raise ConfigError(f"model family {self.family!r} is conditional: give the data conditions or labels")
        self.config = config
        self.sample_shape = tuple(sample_shape)
        self.cond_dim = cond_dim
        self.geometry = geometry
        self.latent_dim = config.latent_dim
        self.generator, critics = self.build_networks()
        self.critics = nn.ModuleDict(critics)
        if config.noise_injection > 0:
            self._add_noise_injection(config.noise_injection)
        self.uses_vbn = any(isinstance(m, VirtualBatchNorm) for m in self.modules())
        self.reference_size = 64

    # -- construction ---------------------------------------------------------------------
    def build_networks(self) -> tuple[nn.Module, dict[str, nn.Module]]:
        """The generator and the named critics: by default built from the config's layouts."""
        config = self.config
        generator = self._build(config.generator, (config.latent_dim,), self.sample_shape, "generator")
        return generator, {"critic": self._build(config.critic, self.sample_shape, (1,), "critic")}

    def _build(self, layout: str, input_shape, expected_out, role: str):
        text = resolve_layout(layout)
        kinds = [spec.kind for spec in parse_layout(text).layers]
        has_concat = "CONCAT" in kinds
        feeds_cond = self.cond_dim > 0 and not has_concat
        if feeds_cond and len(input_shape) != 1 and kinds[0] != "DENSE":
            raise ConfigError(
                f"model.{role}: a conditional network on {input_shape} inputs needs a CONCAT layer to say where "
                "the conditions enter (or a DENSE first layer, which sees the flattened input and the conditions)"
            )
        flat = int(torch.tensor(input_shape).prod())
        shape = (flat + self.cond_dim,) if feeds_cond else tuple(input_shape)
        net = build_network(text, shape, cond_dim=self.cond_dim if has_concat else 0, init=self.config.init)
        out = tuple(net.output_shape)
        if int(torch.tensor(out).prod()) != int(torch.tensor(expected_out).prod()):
            raise ConfigError(f"model.{role}: the layout produces {out} but {tuple(expected_out)} is needed")
        return _Conditioned(net, feeds_cond, tuple(expected_out))

    def _add_noise_injection(self, std: float) -> None:
        """Add N(0, std) to the output of every hidden linear/conv layer of the generator in training."""
        layers = [m for m in self.generator.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]

        def hook(module, inputs, output):
            return output + std * torch.randn_like(output) if module.training else output

        for layer in layers[:-1]:
            layer.register_forward_hook(hook)

    def fit_data(self, x: torch.Tensor, cond: torch.Tensor, energies_mev=None) -> None:
        """Learn anything the family needs from the training data before training (default: nothing);
        ``energies_mev`` are the samples' incident energies, for families that work in MeV."""

    def set_reference_data(self, x: torch.Tensor, cond: torch.Tensor) -> None:
        """Fix the reference batch of virtual batch norm (Salimans et al. 2016): the first
        ``reference_size`` training samples for the critics, and a fixed noise batch (with those
        samples' conditions) for the generator. No-op without VBN layers."""
        if not self.uses_vbn:
            return
        n = min(self.reference_size, len(x))
        self.register_buffer("vbn_x", x[:n].clone(), persistent=False)
        self.register_buffer("vbn_cond", cond[:n].clone() if self.cond_dim else None, persistent=False)
        self.register_buffer("vbn_z", torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(0)),
                             persistent=False)
        self.refresh_references()

    # -- calibrations fitted after training ---------------------------------------------------
    def has_calibration(self) -> bool:
        """Whether the generator carries calibrations that are fitted after training (default: none)."""
        return False

    def reset_calibration(self, generator: nn.Module) -> None:
        """Put the calibrations of ``generator`` (this model's generator or a copy with other weights,
        such as the weight average) back to the identity (default: there are none)."""

    def calibrate(self, generator: nn.Module, x: torch.Tensor, cond: torch.Tensor | None,
                  seed: int = 0) -> dict[str, dict]:
        """Fit the calibrations of ``generator`` to the training samples ``x``; returns what each fit
        returned, by name (default: there are none, so {})."""
        return {}

    def refresh_references(self) -> None:
        """Recompute every VBN layer's reference statistics with the current weights (the trainer's
        families call this before each update, as VBN prescribes)."""
        if not self.uses_vbn or getattr(self, "vbn_x", None) is None:
            return
        cond = self.vbn_cond if self.cond_dim else None
        self.generator.set_reference_batch(self.vbn_z, cond)
        for critic in self.critics.values():
            critic.set_reference_batch(self.vbn_x, cond)

    # -- sampling ---------------------------------------------------------------------------
    def sample_latent(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim)

    def generate(self, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.generator(z, cond)

    def critic_input(self, x: torch.Tensor) -> torch.Tensor:
        """What critics see of a sample: with instance noise, a noisy copy."""
        if self.config.instance_noise > 0 and self.training:
            return x + self.config.instance_noise * torch.randn_like(x)
        return x

    def fixed_real_views(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor | None:
        """What the critics see of the training samples before any instance noise, when a family
        transforms samples for its critics and that transform is fixed during training: the trainer
        computes it once and passes each batch's rows to :meth:`critic_loss` as ``real_view``.
        None (the default) when there is nothing to compute."""
        return None

    def fake_views(self, conds: list[torch.Tensor | None], n: int) -> list[torch.Tensor] | None:
        """For families whose critics see generated samples through :meth:`critic_loss`'s
        ``fake_view``: what they see of ``n`` new samples per condition batch in ``conds``, made in one
        pass (the generator does not change between the critic updates of a step, and one pass
        over all of them costs a quarter less than one per update; a generator with batch
        statistics makes each batch on its own). None (the default): each critic update
        generates its own."""
        return None

    # -- losses (subclasses) ----------------------------------------------------------------
    def critic_loss(self, real: torch.Tensor, cond: torch.Tensor | None,
                    penalty: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
        """The critics' loss on a real batch; ``penalty`` says whether this update applies the
        family's gradient penalties (``model.gp_every``: only every k-th update does). Families
        with :meth:`fixed_real_views` also take the batch's rows of it as ``real_view``, and those
        with :meth:`fake_views` one of its batches as ``fake_view``."""
        raise NotImplementedError

    def generator_loss(self, cond: torch.Tensor | None, n: int) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def generator_conditions(self, cond_pool: torch.Tensor, n: int) -> torch.Tensor | None:
        """Conditions for a generator update, drawn from ``cond_pool`` (families may re-weight)."""
        if self.cond_dim == 0:
            return None
        return cond_pool[torch.randint(len(cond_pool), (n,))]


def _value(t: torch.Tensor) -> float:
    """A loss as a plain float for the logs (detached, so no autograd warning)."""
    return float(t.detach())


class _Conditioned(nn.Module):
    """A built network that, when asked to, sees the conditions appended to its flat input."""

    def __init__(self, net, feeds_cond: bool, out_shape: tuple[int, ...]):
        super().__init__()
        self.net = net
        self.feeds_cond = feeds_cond
        self.out_shape = out_shape

    @property
    def layout(self) -> str:
        return self.net.to_layout()

    def set_reference_batch(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> None:
        """Fix the VBN reference statistics of the network from the batch ``x`` (see hepgan.nn)."""
        if self.feeds_cond:
            self.net.set_reference_batch(torch.cat([x.reshape(x.shape[0], -1), cond], dim=1))
        else:
            self.net.set_reference_batch(x, cond)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.feeds_cond:
            out = self.net(torch.cat([x.reshape(x.shape[0], -1), cond], dim=1))
        else:
            out = self.net(x, cond)
        return out.reshape(-1, *self.out_shape)  # no batch size as a number: ONNX traces stay dynamic
