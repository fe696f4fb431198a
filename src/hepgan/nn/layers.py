"""Torch modules behind the layout keywords that PyTorch does not provide ready-made.

Each is small on purpose: the builder composes them with ``torch.nn`` layers, and the tests
check each one's defining property (Swish's beta learns, VBN's output of one example does not
depend on the rest of the batch, ...). Flat activations are (N, n), images (N, C, H, W).
"""

from __future__ import annotations

import torch
from torch import nn

from hepgan.errors import HepganError


class Swish(nn.Module):
    """x * sigmoid(beta * x) with one trainable beta per layer (Ramachandran et al. 2017).

    beta starts at 1 (SiLU); letting it learn lets each layer move between linear (beta -> 0)
    and ReLU-like (beta large) behaviour.
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


class SymmReLU(nn.Module):
    """TMVA's symmetric ReLU, |x|."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs()


class Gauss(nn.Module):
    """TMVA's Gaussian activation, exp(-x^2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-x * x)


class Exp(nn.Module):
    """exp(x): a positive output, e.g. for energies generated in log space."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def _reduce_dims(x: torch.Tensor) -> tuple[int, ...]:
    """Dimensions that batch statistics average over: the batch, and space for images."""
    if x.dim() == 2:
        return (0,)
    if x.dim() == 4:
        return (0, 2, 3)
    raise HepganError(f"expected a flat (N, n) or image (N, C, H, W) tensor, got shape {tuple(x.shape)}")


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation (Salimans et al. 2016, "Improved techniques for training GANs").

    Each example is normalised with statistics of a fixed reference batch combined with the
    example itself (weight 1/(n_ref + 1)), so its output does not depend on which other
    examples share its batch. Statistics are per feature (flat) or per channel (images).

    :meth:`set_reference` stores the reference statistics as a snapshot (no gradient flows
    through them); call it again after the weights before this layer change. Before any
    reference is set the layer behaves like batch norm on the current batch (the batch's own
    statistics, in training and evaluation alike, no running averages).
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        # Buffers (not None) so that a state dict with a reference loads into a fresh layer.
        self.register_buffer("ref_mean", torch.zeros(num_features))
        self.register_buffer("ref_meansq", torch.zeros(num_features))
        self.register_buffer("ref_count", torch.zeros((), dtype=torch.long))

    @property
    def has_reference(self) -> bool:
        return bool(self.ref_count > 0)

    def _view(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return t.view(1, -1) if x.dim() == 2 else t.view(1, -1, 1, 1)

    def _normalise(self, x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        out = (x - mean) / torch.sqrt(var + self.eps)
        return out * self._view(self.weight, x) + self._view(self.bias, x)

    def set_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Store ``x``'s statistics as the reference; return ``x`` normalised with them alone.

        The return value is what the reference batch looks like to the next layer, which is
        how the reference statistics of later VBN layers are computed.
        """
        dims = _reduce_dims(x)
        with torch.no_grad():
            self.ref_mean.copy_(x.mean(dims))
            self.ref_meansq.copy_((x * x).mean(dims))
            self.ref_count.fill_(x.shape[0])
            mean = self._view(self.ref_mean, x)
            var = (self._view(self.ref_meansq, x) - mean * mean).clamp_min(0)
            return self._normalise(x, mean, var)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = _reduce_dims(x)
        if not self.has_reference:
            mean = x.mean(dims, keepdim=True)
            var = x.var(dims, unbiased=False, keepdim=True)
            return self._normalise(x, mean, var)
        new = 1.0 / (float(self.ref_count) + 1.0)
        own = dims[1:]  # per example: nothing for flat, space for images
        own_mean = x.mean(own, keepdim=True) if own else x
        own_meansq = (x * x).mean(own, keepdim=True) if own else x * x
        mean = new * own_mean + (1 - new) * self._view(self.ref_mean, x)
        meansq = new * own_meansq + (1 - new) * self._view(self.ref_meansq, x)
        return self._normalise(x, mean, (meansq - mean * mean).clamp_min(0))


class MinibatchStd(nn.Module):
    """Appends one feature (flat) or channel (image): the batch's spread (Karras et al. 2018).

    Within each group of ``group`` consecutive examples (0: the whole batch; the last group may
    be smaller) the std of every feature across the group is taken and averaged into one number,
    which is appended to each example of the group. A discriminator seeing it can tell a
    collapsed (low-variety) batch from a real one.
    """

    def __init__(self, group: int = 0):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        size = n if self.group <= 0 else min(self.group, n)
        stds = [
            chunk.var(0, unbiased=False).add(1e-8).sqrt().mean().expand(chunk.shape[0])
            for chunk in x.split(size)
        ]
        std = torch.cat(stds).to(x.dtype)
        if x.dim() == 2:
            return torch.cat([x, std[:, None]], 1)
        extra = std.view(n, 1, 1, 1).expand(n, 1, x.shape[2], x.shape[3])
        return torch.cat([x, extra], 1)


class ConcatCondition(nn.Module):
    """Appends the network's condition vector (N, cond_dim) to the activation.

    Flat activations get it as extra features; images get it as ``cond_dim`` extra channels,
    each constant over the image (the usual way to condition a convolutional GAN).
    """

    def __init__(self, cond_dim: int):
        super().__init__()
        self.cond_dim = cond_dim

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if cond is None:
            raise HepganError("this network has a CONCAT layer: pass the condition, forward(x, cond)")
        if cond.dim() != 2 or cond.shape[0] != x.shape[0] or cond.shape[1] != self.cond_dim:
            raise HepganError(f"condition must have shape ({x.shape[0]}, {self.cond_dim}), "
                              f"got {tuple(cond.shape)}")
        cond = cond.to(x.dtype)
        if x.dim() == 2:
            return torch.cat([x, cond], 1)
        extra = cond[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return torch.cat([x, extra], 1)


class ClassEmbedding(nn.Module):
    """Looks up a learned vector for an integer class index given as an (N, 1) input.

    The index may arrive as a float tensor (like every other network input) but must hold
    whole numbers in [0, n_classes); anything else is an error rather than a silent cast.
    """

    def __init__(self, n_classes: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_classes, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = x.reshape(x.shape[0])
        if index.is_floating_point():
            if not torch.equal(index, index.round()):
                raise HepganError("EMBED input must hold whole-number class indices")
            index = index.long()
        n = self.embedding.num_embeddings
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= n):
            raise HepganError(f"EMBED class index out of range [0, {n}): "
                              f"got {int(index.min())}..{int(index.max())}")
        return self.embedding(index)


__all__ = [
    "ClassEmbedding", "ConcatCondition", "Exp", "Gauss", "MinibatchStd", "Swish", "SymmReLU",
    "VirtualBatchNorm",
]
