"""The ``layered_wgan`` family: energies, then per-layer shapes, with networks shared by all layers
(see :mod:`hepgan.models.layered.family`)."""

from hepgan.models.layered.family import LayeredWGAN

__all__ = ["LayeredWGAN"]
