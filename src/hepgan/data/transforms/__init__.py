"""Invertible preprocessing that a trained model carries with it.

A generator learns in a transformed space (energy-normalised, log or logit scaled,
standardised); to turn its samples back into showers in MeV the exact same transform, with
its fitted state, must travel with the weights. So every transform here

* is invertible: ``inverse(forward(x, e), e)`` gives ``x`` back to float64 rounding;
* serialises to a plain JSON-able dict (``to_dict`` / :func:`transform_from_dict`, or
  :func:`transforms_to_json` / :func:`transforms_from_json`), fitted state included;
* checks its input and raises :class:`~hepgan.errors.DataError` with source
  ``"<transform NAME>"`` naming what is wrong, instead of silently producing NaNs.

Arrays are (N, columns); incident energies are (N, 1) or (N,) in MeV and may be ``None`` for
transforms that do not use them. Computation and output are always float64 whatever the input
dtype: a float32 round trip would only be good to ~1e-7, and a model casts on its own side.
Inverses also accept values no forward pass produced (a generator's output) and map them back
to physical showers: they clip to the valid range instead of failing.
"""

from hepgan.data.transforms.base import (
    Transform,
    list_transforms,
    register_transform,
    transform_from_dict,
    transforms_from_json,
    transforms_to_json,
)
from hepgan.data.transforms.pipeline import Pipeline
from hepgan.data.transforms.stages import EnergyNormalize, LayerFractions, LogitTransform, LogTransform, Standardize

__all__ = [
    "EnergyNormalize", "LayerFractions", "LogTransform", "LogitTransform", "Pipeline", "Standardize",
    "Transform", "list_transforms", "register_transform", "transform_from_dict",
    "transforms_from_json", "transforms_to_json",
]
