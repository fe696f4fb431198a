"""Shower metrics the trainer can pick checkpoints by (``eval.metrics: [response, physics]``).

Importing this module registers them; the metric code is imported only when a metric runs.
Every output is lower-is-better (``eval.mode: min``): separation powers, FPD and KPD are distances, and ``high_level_auc`` is
reported as 0.5 + |AUC - 0.5| (the usual AUC whenever the classifier beats chance), so 0.5 is best.

- ``response``: mean over incident energies of the relative error of the mean response
  E_dep / E (``response_error``) and of its relative width (``resolution_error``).
- ``physics``: mean and max separation power over the summary observables (whole sample), FPD
  and KPD on the standardised observables (no error estimates, to stay cheap).
- ``physics_auc`` (slower: trains boosted trees): the high-level classifier AUC, on one thread
  (validation samples are small, and the trainer's own threads are busy).
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import ConfigError
from hepgan.train.validation.registry import ValidationSamples, register_validation_metric


@register_validation_metric("response", ("response_error", "resolution_error"))
def response_metric(samples: ValidationSamples) -> dict[str, float]:
    """Energy response and resolution per incident energy: mean over energies of
    |<E_tot/E>_gen / <E_tot/E>_ref - 1| and |width_gen / width_ref - 1| (width = std/mean)."""
    if samples.kind != "showers" or "energy" not in samples.conditions:
        raise ConfigError("validation metric 'response' needs shower data conditioned on energy")
    energy = samples.conditions["energy"]
    gen = samples.generated.sum(axis=1) / energy
    ref = samples.reference.sum(axis=1) / energy
    keys = np.round(np.log(energy), 3)
    values = np.unique(keys)
    if len(values) > 20:  # continuous spectrum: use 10 quantile bins of ln E
        edges = np.quantile(keys, np.linspace(0, 1, 11))
        keys = np.clip(np.searchsorted(edges, keys, side="right") - 1, 0, 9)
        values = np.unique(keys)
    resp, reso = [], []
    for key in values:
        sel = keys == key
        if sel.sum() < 5:
            continue
        g, r = gen[sel], ref[sel]
        resp.append(abs(g.mean() / r.mean() - 1.0))
        width_g, width_r = g.std() / abs(g.mean()), r.std() / abs(r.mean())
        reso.append(abs(width_g / width_r - 1.0) if width_r > 0 else 0.0)
    if not resp:
        raise ConfigError("validation metric 'response': fewer than 5 validation showers per energy")
    return {"response_error": float(np.mean(resp)), "resolution_error": float(np.mean(reso))}


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


__all__ = ["physics_auc_metric", "physics_metric", "response_metric"]
