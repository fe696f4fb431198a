"""Physics metrics the trainer can pick checkpoints by (``eval.metrics: [physics]``).

Importing this module registers them with :func:`hepgan.train.callbacks.register_validation_metric`;
the heavy pieces are imported only when a metric runs. Every output is lower-is-better
(``eval.mode: min``): separation powers, FPD and KPD are distances, and ``high_level_auc`` is
reported as 0.5 + |AUC - 0.5| (the usual AUC whenever the classifier beats chance), so 0.5 is best.

- ``physics``: mean and max separation power over the summary observables (whole sample), FPD
  and KPD on the standardised observables (no error estimates, to stay cheap).
- ``physics_auc`` (slower: trains boosted trees): the high-level classifier AUC, on one thread
  (validation samples are small, and the trainer's own threads are busy).
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import ConfigError
from hepgan.train.callbacks import ValidationSamples, register_validation_metric


def _observables(samples: ValidationSamples, metric: str):
    from hepgan.geometry import get_geometry
    from hepgan.metrics.physics.observables import compute_observables

    if samples.kind != "showers" or samples.geometry is None or "energy" not in samples.conditions:
        raise ConfigError(f"validation metric {metric!r} needs shower data on a geometry, conditioned on energy")
    geometry = get_geometry(samples.geometry)
    energy = np.asarray(samples.conditions["energy"], np.float64).reshape(-1)
    conditions = {k: np.asarray(v).reshape(len(energy), -1)[:, 0] for k, v in samples.conditions.items()
                  if np.asarray(v).size == len(energy)}
    gen = compute_observables(samples.generated, energy, geometry, conditions)
    ref = compute_observables(samples.reference, energy, geometry, conditions)
    return gen, ref, energy


@register_validation_metric("physics", ("mean_separation_power", "max_separation_power", "fpd", "kpd"))
def physics_metric(samples: ValidationSamples) -> dict[str, float]:
    """Separation powers, FPD and KPD of the generated validation showers."""
    from hepgan.metrics.physics.compare import (
        bin_counts,
        reference_edges,
        separation_power,
    )
    from hepgan.metrics.physics.distances import fpd, kpd
    from hepgan.metrics.physics.evaluate import summary_names
    from hepgan.metrics.physics.features import standardised_features

    gen, ref, _ = _observables(samples, "physics")
    powers = []
    for name in summary_names(ref):
        r, g = ref[name][~np.isnan(ref[name])], gen[name][~np.isnan(gen[name])]
        if r.size and g.size:
            edges = reference_edges(r)
            powers.append(separation_power(bin_counts(r, edges), bin_counts(g, edges)))
        elif r.size or g.size:
            powers.append(1.0)
    x_ref, x_gen, _ = standardised_features(ref, gen)
    return {
        "mean_separation_power": float(np.mean(powers)) if powers else float("nan"),
        "max_separation_power": float(np.max(powers)) if powers else float("nan"),
        "fpd": fpd(x_ref, x_gen, n_bootstrap=0)["value"],
        "kpd": kpd(x_ref, x_gen)["value"],
    }


@register_validation_metric("physics_auc", ("high_level_auc",))
def physics_auc_metric(samples: ValidationSamples) -> dict[str, float]:
    """AUC of boosted trees telling generated from reference validation showers by their observables."""
    from hepgan.metrics.physics.classifier import classifier_test
    from hepgan.metrics.physics.features import standardised_features

    gen, ref, energy = _observables(samples, "physics_auc")
    x_ref, x_gen, _ = standardised_features(ref, gen, indicators=True)
    log_e = np.log(energy)[:, None]
    result = classifier_test(np.concatenate([x_ref, log_e], axis=1), np.concatenate([x_gen, log_e], axis=1),
                             model="hgb", n_bootstrap=0, threads=1)
    return {"high_level_auc": 0.5 + abs(result["auc"] - 0.5)}


__all__ = ["physics_auc_metric", "physics_metric"]
