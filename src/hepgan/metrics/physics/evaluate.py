"""Every physics metric for one generated shower set against a reference set, as one JSON dict.

The stages are those of the 2022 CaloChallenge evaluation plus the ATLAS FastCaloGAN study's per-energy checks:
observables of both sets; per observable, overall and at every energy point, separation power,
chi2/ndf, KS and W1 (:mod:`compare`); the response / resolution table (:mod:`resolution`);
FPD and KPD on the standardised observables (:mod:`distances`); and, optionally, the classifier
AUCs on cells (low level) and on observables (high level) (:mod:`classifier`). The result holds
only plain Python values; undefined numbers (NaN, inf) are written as null.

Every stage after the first works on the observables (tens to a few hundred floats a shower),
except the low-level classifier, which gets the cells of at most ``low_level_memory`` bytes of
float32 inputs for both sets together (rows spread evenly over each set; on small geometries
that is every shower). So a set reduced to an :class:`ObservedSet` is all the later stages need,
and :mod:`hepgan.metrics.physics.files` can build one from a file read in chunks, for sets too
large to hold (100,000 CaloChallenge dataset 3 showers are 16 GB of float32 cells).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from hepgan.data.showers import ShowerData
from hepgan.errors import ConfigError, DataError
from hepgan.geometry import Geometry, get_geometry
from hepgan.metrics.physics.classifier import limited_threads, low_level_inputs
from hepgan.metrics.physics.compare import compare_samples
from hepgan.metrics.physics.distances import fpd, kpd
from hepgan.metrics.physics.features import feature_names, standardised_features
from hepgan.metrics.physics.observables import compute_observables
from hepgan.metrics.physics.resolution import energy_bins, response_table

N_WORST = 5
LOW_LEVEL_MEMORY_BYTES = 1_500_000_000  # ~4,600 dataset-3 showers a set; every shower of smaller sets


def summary_names(observables: dict[str, np.ndarray]) -> list[str]:
    """Observables averaged into the summary: the multivariate feature set plus ``e_total``."""
    return ["e_total", *feature_names(observables)] if "e_total" in observables else feature_names(observables)


def resolve_geometry(generated: ShowerData, reference: ShowerData, geometry: str | Geometry | None) -> Geometry:
    """The one geometry both sets are on: given, or named by the data; mismatches are errors.

    Any set with ``geometry``, ``source`` and ``n_cells`` will do (an opened file too).
    """
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
    return common_conditions(generated.conditions, reference.conditions, geometry)


def common_conditions(generated: Collection[str], reference: Collection[str], geometry: Geometry) -> list[str]:
    """The geometry's lateral impact conditions when both sets (condition names) carry them, else none."""
    if geometry.impact is None or not geometry.impact.lateral:
        return []
    names = list(geometry.impact.names)
    if all(n in generated and n in reference for n in names):
        return names
    return []


@dataclass
class ObservedSet:
    """One shower set as the stages after the observables need it, without its cells.

    ``low_level`` holds the float32 low-level classifier inputs (:func:`low_level_inputs`) of
    ``low_level_rows`` only (None when no classifier runs).
    """

    source: str
    n: int
    observables: dict[str, np.ndarray]
    incident_energies: np.ndarray  # (N, 1), as stored
    low_level: np.ndarray | None = None
    low_level_rows: np.ndarray | None = None


def low_level_width(geometry: Geometry, cond_names: list[str]) -> int:
    """Columns of the low-level classifier inputs: cells, log incident energy, conditions."""
    return geometry.n_cells + 1 + len(cond_names)


def low_level_rows(n: int, width: int, memory_bytes: int) -> np.ndarray:
    """Rows of a set of ``n`` whose low-level inputs are kept: all when half of ``memory_bytes``
    holds them as float32, else as many as it holds, spread evenly over the set (files are often
    ordered by energy, so every energy keeps its share)."""
    if not isinstance(memory_bytes, (int, np.integer)) or memory_bytes <= 0:
        raise ConfigError(f"low_level_memory must be a positive number of bytes, got {memory_bytes!r}")
    cap = int(memory_bytes) // (2 * 4 * width)
    if cap < 10:
        raise ConfigError(f"low_level_memory of {memory_bytes} bytes holds {cap} showers a set of {width} float32 "
                          f"inputs; the classifier needs at least 10")
    if n <= cap:
        return np.arange(n)
    return np.arange(cap, dtype=np.int64) * n // cap


def fill_low_level(out: np.ndarray, at: int, data: ShowerData, rows: np.ndarray, cond_names: list[str]) -> None:
    """``out[at : at + len(rows)]`` = low-level inputs of ``data``'s ``rows``, a few MB of float64 at a time."""
    step = max(1, 2**22 // out.shape[1])
    for start in range(0, len(rows), step):
        r = rows[start : start + step]
        out[at + start : at + start + len(r)] = low_level_inputs(
            data.showers[r], data.incident_energies[r], [data.conditions[n][r, 0] for n in cond_names])


def observe_showers(data: ShowerData, geometry: Geometry, cond_names: list[str],
                    low_level_memory: int | None) -> ObservedSet:
    """The observables of a set held in memory, and its low-level inputs when ``low_level_memory`` is given."""
    cond = {n: data.conditions[n][:, 0] for n in cond_names}
    observed = ObservedSet(data.source, len(data), compute_observables(data.showers, data.incident_energies,
                                                                      geometry, cond), data.incident_energies)
    if low_level_memory is not None:
        rows = low_level_rows(len(data), low_level_width(geometry, cond_names), low_level_memory)
        observed.low_level = np.empty((len(rows), low_level_width(geometry, cond_names)), np.float32)
        observed.low_level_rows = rows
        fill_low_level(observed.low_level, 0, data, rows, cond_names)
    return observed


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
    low_level_memory: int = LOW_LEVEL_MEMORY_BYTES,
) -> dict:
    """Compare ``generated`` with ``reference``; a JSON-serialisable dict (see the module doc).

    ``high_level_model`` picks the high-level classifier: gradient-boosted trees ("hgb", the
    default: on ~45 tabular features they separate better and faster than a network) or a DNN
    like the low-level one ("mlp").

    ``max_per_class`` caps the showers per sample the classifiers use; ``threads`` caps the CPU
    threads of the whole evaluation (BLAS, OpenMP, torch; see
    :func:`hepgan.metrics.physics.classifier.limited_threads`); ``progress`` is called with each
    stage's name before it runs. ``low_level_memory`` bounds the float32 cells the low-level
    classifier holds for both sets together (see :func:`low_level_rows`).
    """
    geometry = resolve_geometry(generated, reference, geometry)
    check_sizes(generated, reference)
    for d in (generated, reference):
        d.check_finite()
    cond_names = shared_conditions(generated, reference, geometry)
    with limited_threads(threads):
        stage = Stages(progress)
        stage("observables")
        memory = low_level_memory if classifier else None
        observed = [observe_showers(d, geometry, cond_names, memory) for d in (generated, reference)]
        return evaluate_observed(*observed, geometry, cond_names, stage, classifier=classifier,
                                 per_energy=per_energy, seed=seed, n_bins=n_bins, binning=binning,
                                 max_per_class=max_per_class, threads=threads, high_level_model=high_level_model)


def check_sizes(generated, reference) -> None:
    """Both sets need enough showers for the statistics; a DataError naming the short one."""
    for d, what in ((generated, "generated"), (reference, "reference")):
        if len(d) < 20:
            raise DataError(d.source, f"{what} set has {len(d)} showers; at least 20 are needed")


def evaluate_observed(
    generated: ObservedSet,
    reference: ObservedSet,
    geometry: Geometry,
    cond_names: list[str],
    stage: "Stages",
    *,
    classifier: bool = True,
    per_energy: bool = True,
    seed: int = 0,
    n_bins: int = 50,
    binning: str = "quantile",
    max_per_class: int | None = None,
    threads: int | None = None,
    high_level_model: str = "hgb",
) -> dict:
    """Every stage after the observables, the same for sets held in memory and files read in chunks.

    ``stage`` is the running stage clock (its "observables" stage ends here).
    """
    if classifier and (generated.low_level is None or reference.low_level is None):
        raise ValueError("the classifier stage needs sets observed with their low-level inputs")
    obs = {"generated": generated.observables, "reference": reference.observables}
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
        classifiers = _classifiers(generated, reference, seed, max_per_class, threads, high_level_model)
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
        "generated": {"source": generated.source, "n": generated.n},
        "reference": {"source": reference.source, "n": reference.n},
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


def _classifiers(generated: ObservedSet, reference: ObservedSet, seed, max_per_class, threads,
                 high_level_model="hgb") -> dict:
    from hepgan.metrics.physics.classifier import classifier_test

    low_level = classifier_test(reference.low_level, generated.low_level, model="mlp", seed=seed,
                                max_per_class=max_per_class, threads=threads)
    low_level["showers_read"] = {"generated": len(generated.low_level), "reference": len(reference.low_level)}
    low_level["memory_capped"] = len(generated.low_level) < generated.n or len(reference.low_level) < reference.n
    x_ref, x_gen, columns = standardised_features(reference.observables, generated.observables, indicators=True)
    x_ref = np.concatenate([x_ref, np.log(reference.incident_energies.astype(np.float64))], axis=1)
    x_gen = np.concatenate([x_gen, np.log(generated.incident_energies.astype(np.float64))], axis=1)
    high_level = classifier_test(x_ref, x_gen, model=high_level_model, seed=seed, max_per_class=max_per_class,
                                 threads=threads)
    high_level["features"] = [*columns, "log_incident_energy"]
    return {"low_level": low_level, "high_level": high_level}


class Stages:
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
        low = (result.get("classifier") or {}).get("low_level") or {}
        if low.get("memory_capped"):
            read = low["showers_read"]
            of = f"{g:,}" if g == r else f"{g:,} + {r:,}"
            lines.append(f"low-level classifier on {read['generated']:,} + {read['reference']:,} of {of} showers "
                         f"(memory cap)")
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
    "LOW_LEVEL_MEMORY_BYTES", "ObservedSet", "Stages", "common_conditions", "evaluate_observed", "evaluate_showers",
    "fill_low_level", "format_summary", "low_level_rows", "low_level_width", "observe_showers", "resolve_geometry",
    "shared_conditions", "summary_names", "to_jsonable",
]
