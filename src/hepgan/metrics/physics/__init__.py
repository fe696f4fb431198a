"""Physics validation of generated showers: observables, two-sample statistics, FPD/KPD,
classifier AUC and the energy response, each a pure function on arrays, and
:func:`evaluate_showers` running them all (:func:`evaluate_files` for files read in chunks).

Nothing here imports torch or scikit-learn until a classifier is trained.
"""

from hepgan.metrics.physics.compare import compare_samples, separation_power
from hepgan.metrics.physics.distances import fpd, frechet_distance, kpd
from hepgan.metrics.physics.evaluate import evaluate_showers, format_summary
from hepgan.metrics.physics.features import feature_names, standardised_features
from hepgan.metrics.physics.files import evaluate_files
from hepgan.metrics.physics.observables import compute_observables, eratio
from hepgan.metrics.physics.resolution import energy_bins, response_table

__all__ = [
    "compare_samples", "compute_observables", "energy_bins", "eratio", "evaluate_files", "evaluate_showers",
    "feature_names", "format_summary", "fpd", "frechet_distance", "kpd", "response_table", "separation_power",
    "standardised_features",
]
