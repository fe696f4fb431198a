"""The flagship calorimeter family ``calo_wgan`` (:class:`CaloWGAN`; its design is described in
:mod:`hepgan.models.calo.family` and docs/flagship.md), one concept per module:

* :mod:`~hepgan.models.calo.standardiser`: means and widths as functions of the conditions;
* :mod:`~hepgan.models.calo.features`: the hierarchical shower features and the generator's head;
* :mod:`~hepgan.models.calo.summaries`: layer shapes, linear shares and E_ratio for the critics;
* :mod:`~hepgan.models.calo.fluctuations`: cell fluctuations and whole-deposit sampling;
* :mod:`~hepgan.models.calo.generator`: the generator that puts them together;
* :mod:`~hepgan.models.calo.quantile_map`, :mod:`~hepgan.models.calo.layer_calibration`,
  :mod:`~hepgan.models.calo.response_calibration`: the calibrations fitted after training;
* :mod:`~hepgan.models.calo.family`: the family itself, its losses and calibration fits.
"""

from __future__ import annotations

from hepgan.models.calo.family import CaloWGAN, summary_moments
from hepgan.models.calo.features import ShowerFeatures, feature_dim
from hepgan.models.calo.fluctuations import CellFluctuations
from hepgan.models.calo.generator import StructuredGenerator
from hepgan.models.calo.standardiser import ConditionalStandardiser
from hepgan.models.calo.summaries import LinearShares, ShapeSummaries, StripEratio

__all__ = [
    "CaloWGAN", "CellFluctuations", "ConditionalStandardiser", "LinearShares", "ShapeSummaries", "ShowerFeatures",
    "StripEratio", "StructuredGenerator", "feature_dim", "summary_moments",
]
