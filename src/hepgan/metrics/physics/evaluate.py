"""Every physics metric for one generated shower set against a reference set, as one JSON dict.

The stages are those of the 2022 CaloChallenge evaluation plus the ATLAS FastCaloGAN study's per-energy checks:
observables of both sets; per observable, overall and at every energy point, separation power,
chi2/ndf, KS and W1 (:mod:`compare`); the response / resolution table (:mod:`resolution`);
FPD and KPD on the standardised observables (:mod:`distances`); and, optionally, the classifier
AUCs on cells (low level) and on observables (high level) (:mod:`classifier`). The result holds
only plain Python values; undefined numbers (NaN, inf) are written as null.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from hepgan.data.showers import ShowerData
from hepgan.errors import ConfigError, DataError
from hepgan.geometry import Geometry, get_geometry
from hepgan.metrics.physics.classifier import limited_threads
from hepgan.metrics.physics.compare import compare_samples
from hepgan.metrics.physics.distances import fpd, kpd
from hepgan.metrics.physics.features import feature_names, standardised_features
from hepgan.metrics.physics.observables import compute_observables
from hepgan.metrics.physics.resolution import energy_bins, response_table

N_WORST = 5


def summary_names(observables: dict[str, np.ndarray]) -> list[str]:
    """Observables averaged into the summary: the multivariate feature set plus ``e_total``."""
    return ["e_total", *feature_names(observables)] if "e_total" in observables else feature_names(observables)


def resolve_geometry(generated: ShowerData, reference: ShowerData, geometry: str | Geometry | None) -> Geometry:
    """The one geometry both sets are on: given, or named by the data; mismatches are errors."""
    named = {d.geometry for d in (generated, reference) if d.geometry is not None}
    if geometry is not None:
        geometry = get_geometry(geometry)
        for d in (generated, reference):
            if d.geometry is not None and d.geometry != geometry.name:
                raise DataError(d.source, f"showers are on geometry {d.geometry!r}, "
                                          f"but geometry {geometry.name!r} was requested")
    elif len(named) > 1:
        raise DataError(
            generated.source,
            f"generated showers are on geometry {generated.geometry!r} but the reference ({reference.source}) "
            f"is on {reference.geometry!r}",
        )
    elif not named:
        raise ConfigError("neither shower set names its geometry; pass geometry=... (--geometry NAME)")
    else:
        geometry = get_geometry(named.pop())
    for d in (generated, reference):
        if d.n_cells != geometry.n_cells:
            raise DataError(d.source,
                            f"geometry {geometry.name!r} has {geometry.n_cells} cells but showers have {d.n_cells}")
    return geometry


def shared_conditions(generated: ShowerData, reference: ShowerData, geometry: Geometry) -> list[str]:
    """Impact conditions both sets carry (used for centroid offsets and as classifier inputs)."""
    if geometry.impact is None or not geometry.impact.lateral:
        return []
    names = list(geometry.impact.names)
    if all(n in generated.conditions and n in reference.conditions for n in names):
        return names
    return []


def evaluate_showers(
    generated: ShowerData,
    reference: ShowerData,
    geometry: str | Geometry | None = None,
    classifier: bool = True,
    per_energy: bool = True,
    seed: int = 0,
    *,
    n_bins: int = 50,
    binning: str = "quantile",
    max_per_class: int | None = None,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
    high_level_model: str = "hgb",
) -> dict:
    """Compare ``generated`` with ``reference``; a JSON-serialisable dict (see the module doc).

    ``high_level_model`` picks the high-level classifier: gradient-boosted trees ("hgb", the
    default: on ~45 tabular features they separate better and faster than a network) or a DNN
    like the low-level one ("mlp").

    ``max_per_class`` caps the showers per sample the classifiers use; ``threads`` caps the CPU
    threads of the whole evaluation (BLAS, OpenMP, torch; see
    :func:`hepgan.metrics.physics.classifier.limited_threads`); ``progress`` is called with each
    stage's name before it runs.
    """
    geometry = resolve_geometry(generated, reference, geometry)
    for d, what in ((generated, "generated"), (reference, "reference")):
        if len(d) < 20:
            raise DataError(d.source, f"{what} set has {len(d)} showers; at least 20 are needed")
        d.check_finite()
    with limited_threads(threads):
        return _evaluate(generated, reference, geometry, classifier, per_energy, seed, n_bins, binning,
                         max_per_class, threads, progress, high_level_model)


def _evaluate(generated, reference, geometry, classifier, per_energy, seed, n_bins, binning, max_per_class,
              threads, progress, high_level_model) -> dict:
    cond_names = shared_conditions(generated, reference, geometry)
    stage = _Stages(progress)
    stage("observables")
    obs = {}
    for key, d in (("generated", generated), ("reference", reference)):
        cond = {n: d.conditions[n][:, 0] for n in cond_names}
        obs[key] = compute_observables(d.showers, d.incident_energies, geometry, cond)
    e_gen = generated.incident_energies[:, 0].astype(np.float64)
    e_ref = reference.incident_energies[:, 0].astype(np.float64)

    stage("comparisons")
    names = list(obs["reference"])
    overall = {n: compare_samples(obs["reference"][n], obs["generated"][n], n_bins, binning) for n in names}
    bins = energy_bins(np.concatenate([e_ref, e_gen]))
    energies = []
    if per_energy:
        for b in bins:
            sg, sr = b.select(e_gen), b.select(e_ref)
            if sg.sum() < 2 or sr.sum() < 2:
                continue
            table = {n: compare_samples(obs["reference"][n][sr], obs["generated"][n][sg], n_bins, binning)
                     for n in names}
            energies.append(b.describe() | {"n_generated": int(sg.sum()), "n_reference": int(sr.sum()),
                                            "mean_separation_power": _mean_sp(table, summary_names(obs["reference"])),
                                            "observables": table})

    stage("response")
    response = response_table(obs["generated"]["response"], e_gen, obs["reference"]["response"], e_ref,
                              bins=bins, seed=seed)

    stage("distances")
    x_ref, x_gen, columns = standardised_features(obs["reference"], obs["generated"])
    fpd_result = fpd(x_ref, x_gen, seed=seed)
    kpd_result = kpd(x_ref, x_gen, seed=seed)
    fpd_result["features"] = columns

    classifiers = None
    if classifier:
        stage("classifier")
        classifiers = _classifiers(generated, reference, obs, cond_names, seed, max_per_class, threads, high_level_model)
    stage("done")

    ranked = sorted((n for n in summary_names(obs["reference"]) if _finite(overall[n]["separation_power"])),
                    key=lambda n: -overall[n]["separation_power"])
    per_energy_means = [e["mean_separation_power"] for e in energies if _finite(e["mean_separation_power"])]
    summary = {
        "mean_separation_power": _mean_sp(overall, summary_names(obs["reference"])),
        "mean_separation_power_per_energy": float(np.mean(per_energy_means)) if per_energy_means else None,
        "worst_observables": [
            {"observable": n, "separation_power": overall[n]["separation_power"],
             "separation_power_floor": overall[n]["separation_power_floor"]}
            for n in ranked[:N_WORST]
        ],
        "fpd": fpd_result["value"], "fpd_err": fpd_result["error"],
        "kpd": kpd_result["value"], "kpd_err": kpd_result["error"],
    }
    if classifiers is not None:
        for level in ("low_level", "high_level"):
            summary[f"auc_{level}"] = classifiers[level]["auc"]
            summary[f"auc_{level}_err"] = classifiers[level]["auc_err"]
    result = {
        "geometry": geometry.name,
        "generated": {"source": generated.source, "n": len(generated)},
        "reference": {"source": reference.source, "n": len(reference)},
        "settings": {"n_bins": n_bins, "binning": binning, "seed": seed, "conditions": cond_names},
        "summary": summary,
        "observables": overall,
        "per_energy": energies,
        "response": response,
        "fpd": fpd_result,
        "kpd": kpd_result,
        "classifier": classifiers,
        "timing_s": stage.timing,
    }
    return to_jsonable(result)


def _classifiers(generated, reference, obs, cond_names, seed, max_per_class, threads, high_level_model="hgb") -> dict:
    from hepgan.metrics.physics.classifier import classifier_test, low_level_inputs

    def low(d: ShowerData) -> np.ndarray:
        return low_level_inputs(d.showers, d.incident_energies, [d.conditions[n][:, 0] for n in cond_names])

    low_level = classifier_test(low(reference), low(generated), model="mlp", seed=seed, max_per_class=max_per_class,
                                threads=threads)
    x_ref, x_gen, columns = standardised_features(obs["reference"], obs["generated"], indicators=True)
    x_ref = np.concatenate([x_ref, np.log(reference.incident_energies.astype(np.float64))], axis=1)
    x_gen = np.concatenate([x_gen, np.log(generated.incident_energies.astype(np.float64))], axis=1)
    high_level = classifier_test(x_ref, x_gen, model=high_level_model, seed=seed, max_per_class=max_per_class,
                                 threads=threads)
    high_level["features"] = [*columns, "log_incident_energy"]
    return {"low_level": low_level, "high_level": high_level}


class _Stages:
    """Wall time per stage: calling it with a name ends the running stage and starts that one."""

    def __init__(self, progress: Callable[[str], None] | None):
        self.progress = progress
        self.timing: dict[str, float] = {}
        self._name: str | None = None
        self._start = 0.0

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self._name is not None:
            self.timing[self._name] = now - self._start
        self._name, self._start = name, now
        if self.progress is not None and name != "done":
            self.progress(name)


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def _mean_sp(table: dict[str, dict], names: list[str]) -> float | None:
    values = [table[n]["separation_power"] for n in names if n in table and _finite(table[n]["separation_power"])]
    return float(np.mean(values)) if values else None


def to_jsonable(value):
    """Plain Python containers and numbers; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def format_summary(result: dict) -> str:
    """A short terminal summary: AUCs, FPD/KPD, worst observables, response and resolution."""
    s = result["summary"]

    def num(x, fmt=".4f"):
        return "n/a" if x is None else format(x, fmt)

    g, r = result["generated"]["n"], result["reference"]["n"]
    lines = [f"{g} generated vs {r} reference showers on {result['geometry']}"]
    if "auc_low_level" in s:
        lines.append(f"classifier AUC: low level {num(s['auc_low_level'])} +- {num(s['auc_low_level_err'])}, "
                     f"high level {num(s['auc_high_level'])} +- {num(s['auc_high_level_err'])}")
    lines.append(f"FPD x1e3 {num(_scale(s['fpd']), '.3f')} +- {num(_scale(s['fpd_err']), '.3f')}, "
                 f"KPD x1e3 {num(_scale(s['kpd']), '.3f')} +- {num(_scale(s['kpd_err']), '.3f')}")
    lines.append(f"mean separation power {num(s['mean_separation_power'])} "
                 f"(per energy {num(s['mean_separation_power_per_energy'])})")
    lines.append("worst observables (separation power, noise floor):")
    for w in s["worst_observables"]:
        lines.append(f"  {w['observable']:<28} {num(w['separation_power'])}  ({num(w['separation_power_floor'])})")
    lines.append(f"{'energy':>14} {'N gen':>7} {'N ref':>7}   {'<R> gen/ref':>17}   {'sigma/mu gen/ref':>17}"
                 f"   {'core sigma/mu g/r':>17}")
    for row in result["response"]:
        r = row["ratio"]
        cells = [f"{num(r[k])} +- {num(r[k + '_err'])}" for k in ("mean", "rel_width", "core_rel_width")]
        lines.append(f"{row['label']:>14} {row['generated']['n']:>7d} {row['reference']['n']:>7d}   "
                     + "   ".join(f"{c:>17}" for c in cells))
    return "\n".join(lines)


def _scale(x):
    return None if x is None else 1e3 * x


__all__ = [
    "evaluate_showers", "format_summary", "resolve_geometry", "shared_conditions", "summary_names", "to_jsonable",
]
