"""``hepgan report``: one self-contained HTML page and a metrics.json for a run or two shower files.

For a training run the page shows the loss curves, the validation metric that picked the best
checkpoint, and the best generator against held-out reference showers (the validation split plus
every shower at an energy left out of training): key numbers with pass/fail against thresholds,
response and resolution against energy with the left-out and scarce energies marked, overlaid histograms of
the observables with ratio panels per energy, and average showers per layer. For image runs it
shows sample grids per class and over training (the trainer's saved samples), the image metrics
(IS, FID with the real-vs-real floor, label accuracy overall and per class, PRD, PRDC), the class
histogram, the classifier's confidence distribution, and PCA / t-SNE of LeNet features.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from hepgan.data.showers import ShowerData
from hepgan.errors import ConfigError
from hepgan.report import plots
from hepgan.report.html import HtmlReport

# What "good" means (docs/targets.md); every threshold can be overridden.
DEFAULT_THRESHOLDS = {
    "auc_high_level": 0.65,
    "auc_low_level": 0.65,
    "fpd": 5e-3,
    "response_ratio": 0.01,
    "width_ratio": 0.05,
    "inception_score": 9.0,
    "label_accuracy": 0.97,
}
HISTOGRAM_OBSERVABLES = 16
IS_SPLITS = 10
IS_MIN_SPLIT = 500  # images per inception-score split below which the report flags it
FID_MIN = 2000  # images per side below which the report flags the FID
# with a metric classifier trained on the data set: thresholds as fractions of the real images' scores
IS_OF_REAL, ACCURACY_OF_REAL = 0.92, 0.976
FRESH_SEED_OFFSET = 1_000_003  # simulator seed of a fresh response reference: data.simulate.seed + this


def report(run_dir: str | Path | None = None, *, generated: str | Path | ShowerData | None = None,
           reference: str | Path | ShowerData | None = None, out: str | Path | None = None,
           geometry: str | None = None, thresholds: dict | None = None, classifier: bool = True,
           max_showers: int = 20_000, seed: int = 0, response_reference: int = 0) -> Path:
    """Write ``report.html`` (and ``metrics.json`` beside it); returns the HTML path.

    ``response_reference`` (runs on simulated data only): this many fresh reference-simulator
    showers per energy join the response and width table, with as many generated for their
    conditions. A held-out split of ~1,000 showers per energy measures a 2 % resolution to only
    +-4 %, too coarse for a 5 % width target: the training and validation showers of one
    quickstart data set differ in width by up to 5 % at the same energy.
    """
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    if response_reference < 0:
        raise ConfigError(f"response_reference must be >= 0 showers per energy, got {response_reference}")
    if response_reference and run_dir is None:
        raise ConfigError("a fresh response reference is simulated for a run's energies: give a run directory")
    if run_dir is not None:
        run_dir = Path(run_dir)
        out = Path(out) if out else run_dir / "report.html"
        return _run_report(run_dir, out, limits, classifier, max_showers, seed, response_reference)
    if generated is None or reference is None:
        raise ConfigError("report needs a run directory, or both generated and reference showers")
    from hepgan.data.io import load_showers

    gen = generated if isinstance(generated, ShowerData) else load_showers(generated, geometry=geometry)
    ref = reference if isinstance(reference, ShowerData) else load_showers(reference, geometry=geometry)
    out = Path(out) if out else Path("report.html")
    page = HtmlReport(f"hepgan report: {gen.source} vs {ref.source}")
    metrics = _shower_sections(page, gen, ref, geometry, limits, classifier, seed, marks={})
    return _write(page, metrics, out)


def _write(page: HtmlReport, metrics: dict, out: Path) -> Path:
    from hepgan.data.files import atomic_output

    page.write(out)
    with atomic_output(out.with_name("metrics.json")) as tmp:
        tmp.write_text(json.dumps(metrics, indent=1))
    return out


def _records(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _run_report(run_dir: Path, out: Path, limits: dict, classifier: bool, max_showers: int, seed: int,
                response_reference: int = 0) -> Path:
    from hepgan.train.generator import TrainedGenerator
    from hepgan.train.outcome import cut_short_note, describe_outcome, read_outcome

    gen_model = TrainedGenerator.from_run(run_dir)
    config = gen_model.config
    records = _records(run_dir)
    page = HtmlReport(f"hepgan report: {run_dir.name}")
    best = json.loads(json.dumps(_best(records, config)))
    outcome = read_outcome(run_dir)
    page.text(f"family {config.model.family}; generator from step {gen_model.step} of {config.schedule.steps}"
              + (f"; selected by {config.eval.select} = {best['value']:.4g}" if best else "")
              + (f"; trained {describe_outcome(outcome)}" if outcome else ""), css="note")
    if outcome and outcome["cut_short"]:
        page.text("Training was " + cut_short_note(outcome["steps"], outcome["planned"], outcome["time_limit_s"]) + ".",
                  css="warning")
    page.heading("Training")
    for png, caption in ((plots.loss_curves(records), "losses over training"),
                         (plots.validation_curves(records, config.eval.select, best["step"] if best else None),
                          "validation metrics over training; the dashed line marks the selected checkpoint")):
        if png:
            page.figure(png, caption)
    if gen_model.kind == "images":
        metrics = _image_sections(page, gen_model, records, limits, seed, run_dir)
    else:
        reference, marks = _held_out_showers(config, max_showers, seed)
        generated = _generated_like(gen_model, reference, seed)
        generated.source = f"generator (step {gen_model.step})"
        extra = _fresh_response_pairs(gen_model, config, response_reference, seed) if response_reference else None
        metrics = _shower_sections(page, generated, reference, gen_model.geometry, limits, classifier, seed, marks,
                                   extra)
    metrics["run"] = {"run_dir": str(run_dir), "step": gen_model.step, "family": config.model.family, "best": best,
                      "training": outcome}
    return _write(page, metrics, out)


def _best(records: list[dict], config) -> dict | None:
    select = config.eval.select
    values = [(r["step"], r["validation"][select]) for r in records if "validation" in r and select in r["validation"]]
    if not values:
        return None
    pick = min if config.eval.mode == "min" else max
    step, value = pick(values, key=lambda sv: sv[1])
    return {"metric": select, "value": value, "step": step}


def _held_out_showers(config, max_showers: int, seed: int) -> tuple[ShowerData, dict[float, str]]:
    """The run's validation showers plus every shower held out of training (left-out energies,
    the rest of a scarce energy), and a note per energy the training saw little or nothing of."""
    from hepgan.train.data import load_shower_source, partition_showers, split_indices

    data = load_shower_source(config.data)
    used, left = partition_showers(data, config.data)
    kept = data.subset(used)
    _, val_idx = split_indices(len(kept), config.data.validation_fraction, config.seed)
    parts = [kept.subset(val_idx)] if len(val_idx) else []
    if left.any():
        parts.append(data.subset(left))
    if not parts:
        raise ConfigError("the run has no validation showers and no left-out energy to compare against")
    reference = ShowerData.concat(parts)
    if len(reference) > max_showers:
        keep = np.sort(np.random.default_rng(seed).choice(len(reference), max_showers, replace=False))
        reference = reference.subset(keep)
    reference.source = "held-out reference showers"
    return reference, _training_marks(config.data)


def _fresh_response_pairs(gen_model, config, per_energy: int, seed: int) -> tuple[ShowerData, ShowerData]:
    """(generated, reference) for the response table: ``per_energy`` new reference-simulator
    showers at each simulated energy, from a seed the training data never used, and as many
    generated showers for their conditions."""
    from hepgan.sim import simulate

    sim = config.data.simulate
    if sim is None:
        raise ConfigError(f"a fresh response reference needs a run trained on simulated data (data.simulate); "
                          f"this run read {config.data.path}")
    fresh = simulate(sim.model_copy(update={"events_per_energy": per_energy, "seed": sim.seed + FRESH_SEED_OFFSET}))
    return _generated_like(gen_model, fresh, seed + 1), fresh


def _generated_like(gen_model, showers: ShowerData, seed: int) -> ShowerData:
    """Generated showers for the conditions (energy, impact point) of each of ``showers``."""
    conditions = {"energy": showers.incident_energies[:, 0]}
    conditions.update({k: v[:, 0] if v.shape[1] == 1 else v for k, v in showers.conditions.items()})
    return gen_model.generate_showers(conditions, seed=seed)


def _training_marks(data_config) -> dict[float, str]:
    """{energy [GeV]: how training treated it} for the energies a reader must judge apart."""
    marks = {float(e): "left out of training" for e in data_config.exclude_energies_gev}
    for e, n in data_config.scarce_energies_gev.items():
        marks[float(e)] = f"only {n} training shower{'s' if n != 1 else ''}"
    return marks


def _check(value, limit, mode="max") -> str:
    """'pass' / 'fail' against a threshold; 'info' for numbers without one."""
    if limit is None or not math.isfinite(limit):
        return "info"
    if value is None or not math.isfinite(value):
        return "n/a"
    return "pass" if (value <= limit if mode == "max" else value >= limit) else "fail"


def _shower_sections(page: HtmlReport, gen: ShowerData, ref: ShowerData, geometry, limits: dict,
                     classifier: bool, seed: int, marks: dict[float, str],
                     extra: tuple[ShowerData, ShowerData] | None = None) -> dict:
    from hepgan.geometry import get_geometry
    from hepgan.metrics.physics.evaluate import evaluate_showers
    from hepgan.metrics.physics.observables import compute_observables

    metrics = evaluate_showers(gen, ref, geometry=geometry, classifier=classifier, seed=seed)
    response_note = f"{len(ref)} held-out reference showers"
    if extra is not None:  # the response table on the held-out plus the fresh showers
        metrics["response"] = _response_rows([gen, extra[0]], [ref, extra[1]], seed)
        metrics["response_reference"] = {"held_out": len(ref), "fresh": len(extra[1])}
        response_note += f" and {len(extra[1])} fresh ones from the reference simulator"
    g = get_geometry(metrics["geometry"])
    summary = metrics["summary"]
    rows, classes = [], []

    def add(name, value, err, limit, mode="max"):
        verdict = _check(value, limit, mode)
        shown_limit = limit if math.isfinite(limit) else ""
        rows.append([name, value if value is not None else "n/a", err if err is not None else "", shown_limit, verdict])
        classes.append(verdict if verdict in ("pass", "fail") else "")

    if classifier:
        add("classifier AUC, high level", summary.get("auc_high_level"), summary.get("auc_high_level_err"), limits["auc_high_level"])
        add("classifier AUC, low level", summary.get("auc_low_level"), summary.get("auc_low_level_err"), limits["auc_low_level"])
    add("FPD", summary["fpd"], summary["fpd_err"], limits["fpd"])
    add("KPD", summary["kpd"], summary["kpd_err"], float("nan"))
    add("mean separation power", summary["mean_separation_power"], None, float("nan"))
    worst_mean = max((abs(r["ratio"]["mean"] - 1) for r in metrics["response"] if r["ratio"]["mean"] is not None), default=None)
    worst_width = max((abs(r["ratio"]["rel_width"] - 1) for r in metrics["response"] if r["ratio"]["rel_width"] is not None), default=None)
    add("worst |<E_tot/E> gen/ref - 1| over energies", worst_mean, None, limits["response_ratio"])
    add("worst |width gen/ref - 1| over energies", worst_width, None, limits["width_ratio"])
    page.heading("Key numbers")
    page.text(f"{len(gen)} generated ({gen.source}) vs {len(ref)} reference ({ref.source}) showers on {g.name}", css="note")
    page.table(["metric", "value", "uncertainty", "threshold", "verdict"], rows, classes, id="key-numbers")

    page.heading("Energy response and resolution")
    page.text(f"against {response_note}", css="note")

    def mark(row) -> str:  # how training treated this energy ("" for a fully trained one)
        e = row["energy_mev"] / 1000.0
        return next((note for x, note in marks.items() if abs(e - x) < 1e-6 * x), "")

    response_rows = [
        {"energy_gev": r["energy_mev"] / 1000.0,
         **{who: {"mean": r[who]["mean"], "mean_err": r[who]["mean_err"], "width": r[who]["rel_width"],
                  "width_err": r[who]["rel_width_err"]} for who in ("generated", "reference")}}
        for r in metrics["response"]
    ]
    page.figure(plots.response_resolution(response_rows, marks), "generated vs reference; dotted: energies left out of training or with only a few training showers")
    page.table(
        ["E [GeV]", "<E/E> ref", "<E/E> gen", "mean ratio", "width ref", "width gen", "width ratio", "verdict", "training"],
        [[r["energy_mev"] / 1000.0, r["reference"]["mean"], r["generated"]["mean"], r["ratio"]["mean"],
          r["reference"]["rel_width"], r["generated"]["rel_width"], r["ratio"]["rel_width"],
          "pass" if abs(r["ratio"]["mean"] - 1) <= limits["response_ratio"] and abs(r["ratio"]["rel_width"] - 1) <= limits["width_ratio"] else "fail",
          mark(r)]
         for r in metrics["response"]],
        ["little-training" if mark(r) else "" for r in metrics["response"]],
        id="response",
    )

    page.heading("Observables")
    names = [w["observable"] for w in summary["worst_observables"]]
    ranked = sorted(metrics["observables"], key=lambda n: -(metrics["observables"][n]["separation_power"] or 0))
    names = list(dict.fromkeys(names + ranked))[:HISTOGRAM_OBSERVABLES]
    cond = lambda d: {k: v[:, 0] for k, v in d.conditions.items() if v.shape[1] == 1}  # noqa: E731
    obs_gen = compute_observables(gen.showers, gen.incident_energies, g, cond(gen))
    obs_ref = compute_observables(ref.showers, ref.incident_energies, g, cond(ref))
    separation = {n: metrics["observables"][n]["separation_power"] for n in names}
    page.figure(plots.observable_histograms(obs_gen, obs_ref, names, "all energies", separation),
                "the observables with the largest separation power; S = triangular discrimination")
    e_gen, e_ref = gen.incident_energies[:, 0], ref.incident_energies[:, 0]
    for point in metrics["per_energy"]:
        lo, hi = point["low_mev"], point["high_mev"]
        sg, sr = (e_gen >= lo) & (e_gen <= hi), (e_ref >= lo) & (e_ref <= hi)
        sub_gen = {k: v[sg] for k, v in obs_gen.items()}
        sub_ref = {k: v[sr] for k, v in obs_ref.items()}
        sep = {n: point["observables"][n]["separation_power"] for n in names}
        page.figure(plots.observable_histograms(sub_gen, sub_ref, names, f"{point['label']}", sep),
                    f"{point['label']}: mean separation power {point['mean_separation_power']:.3g}")

    page.heading("Average showers")
    page.figure(plots.layer_images(gen.showers.astype(np.float64), ref.showers.astype(np.float64), g),
                "mean energy per cell, log scale")
    return metrics


def _response_rows(generated: list[ShowerData], reference: list[ShowerData], seed: int) -> list[dict]:
    from hepgan.metrics.physics.resolution import response_table

    def responses(parts):
        energies = np.concatenate([p.incident_energies[:, 0] for p in parts]).astype(np.float64)
        totals = np.concatenate([p.showers.reshape(len(p), -1).sum(axis=1, dtype=np.float64) for p in parts])
        return totals / energies, energies

    return response_table(*responses(generated), *responses(reference), seed=seed)


def _image_sections(page: HtmlReport, gen_model, records: list[dict], limits: dict, seed: int,
                    run_dir: Path | None = None) -> dict:
    from hepgan.data.idx import read_mnist

    from hepgan.metrics.image.metric_classifier import metric_classifier

    config = gen_model.config
    test = read_mnist(config.data.mnist_dir, "test")
    n = min(10_000, len(test))
    real, real_labels = test.images[:n], test.labels[:n]
    labels = real_labels if gen_model.encoder.n_classes else None
    generated = gen_model.generate(labels=labels, n=n, seed=seed).reshape(n, 28, 28)
    train = read_mnist(config.data.mnist_dir, "train")
    scorer = metric_classifier(train.images, train.labels, real, real_labels, cache_dir=run_dir, seed=seed)
    metrics, figures = image_report_metrics(generated, real, labels=labels, real_labels=real_labels, seed=seed,
                                            real_train=train.images[:n], classifier=scorer.network)
    limits = image_limits(limits, metrics, scorer.trained_here)
    rows, classes = [], []
    real_is, real_accuracy = metrics["real_inception_score"], metrics["real_label_accuracy"]
    for name, value, real_value, limit, mode in (
            ("inception score", metrics.get("inception_score"), real_is, limits["inception_score"], "min"),
            (f"inception score std ({IS_SPLITS} splits)", metrics.get("inception_score_std"), None, float("nan"), "max"),
            ("label accuracy", metrics.get("label_accuracy"), real_accuracy, limits["label_accuracy"], "min"),
            ("FID", metrics.get("fid"), metrics.get("fid_real_train"), float("nan"), "max"),
            ("PRD AUC", metrics.get("prd_auc"), None, float("nan"), "min"),
            ("PRDC recall", metrics.get("prdc_recall"), None, float("nan"), "min"),
            ("PRDC coverage", metrics.get("prdc_coverage"), None, float("nan"), "min")):
        verdict = _check(value, limit, mode)
        rows.append([name, value if value is not None else "n/a", "" if real_value is None else real_value,
                     limit if math.isfinite(limit) else "", verdict])
        classes.append(verdict if verdict in ("pass", "fail") else "")
    page.heading("Key numbers")
    page.text(f"{len(generated):,} generated vs {len(real):,} real test images; the images are scored by "
              f"{scorer.description}, which classifies {scorer.real_accuracy:.1%} of the real test images right. "
              "The real images' own scores (the FID: real training vs test images, as many) are the references; "
              + ("MNIST's thresholds are absolute." if not scorer.trained_here else
                 f"the thresholds are {IS_OF_REAL:.2f} x the real images' inception score and {ACCURACY_OF_REAL:.3f} x "
                 "their accuracy, where MNIST's targets sit for MNIST."), css="note")
    for warning in metrics["small_sample_warnings"]:
        page.text(warning, css="note")
    page.table(["metric", "value", "real images", "threshold", "verdict"], rows, classes, id="key-numbers")
    page.heading("Samples")
    page.figure(plots.image_grid(generated, labels, "generated (rows: conditioning label)" if labels is not None else "generated"),
                "generated samples")
    snapshots = _sample_snapshots(run_dir / "samples") if run_dir is not None else []
    if snapshots:
        page.figure(plots.sample_evolution(snapshots), "the trainer's saved samples (log.samples_every), first 10 per step")
    if metrics.get("per_class_accuracy"):
        page.table(["class", *range(10)], [["accuracy", *metrics["per_class_accuracy"]]], id="per-class-accuracy")
    for png, caption in figures:
        page.figure(png, caption)
    return {"images": {**metrics, "metric_classifier": scorer.description,
                       "thresholds": {k: limits[k] for k in ("inception_score", "label_accuracy")}}}


def image_limits(limits: dict, metrics: dict, own_classifier: bool) -> dict:
    """The image thresholds: MNIST's as given; with a classifier trained on other data, the same
    fractions of what the real test images score (MNIST's 9.0 and 0.97 are 0.92 and 0.976 of the
    real MNIST test images' 9.74 and 0.993 under the packaged LeNet)."""
    if not own_classifier:
        return limits
    return {**limits, "inception_score": IS_OF_REAL * metrics["real_inception_score"],
            "label_accuracy": ACCURACY_OF_REAL * metrics["real_label_accuracy"]}


def small_sample_warnings(n_generated: int, n_real: int, splits: int) -> list[str]:
    """What the report must say about estimates made on too few images: the Inception Score of a
    split of fewer than IS_MIN_SPLIT images is biased low, a FID on fewer than FID_MIN images biased
    high (both shrink with the sample), so such figures cannot be held against the usual ones."""
    notes = []
    per_split = n_generated // splits
    if per_split < IS_MIN_SPLIT:
        notes.append(f"small sample: the inception score splits {n_generated:,} images into {splits} groups of "
                        f"{per_split:,} (under {IS_MIN_SPLIT}): it is biased low")
    if min(n_generated, n_real) < FID_MIN:
        notes.append(f"small sample: the FID compares {n_generated:,} generated with {n_real:,} real images "
                        f"(under {FID_MIN:,}): it is biased high, so compare it with the real-vs-real FID at the "
                        "same count")
    return notes


def _sample_snapshots(directory: Path, most: int = 8) -> list[tuple[int, np.ndarray]]:
    """(step, generated images) of up to ``most`` saved sample sets, evenly spread over training."""
    files = sorted(directory.glob("step-*.npz")) if directory.is_dir() else []
    if len(files) > most:
        files = [files[round(i * (len(files) - 1) / (most - 1))] for i in range(most)]
    out = []
    for path in files:
        with np.load(path) as data:
            out.append((int(path.stem.split("-")[1]), data["generated"].reshape(-1, 28, 28)))
    return out


def image_report_metrics(generated: np.ndarray, real: np.ndarray, labels: np.ndarray | None,
                         real_labels: np.ndarray, seed: int = 0, real_train: np.ndarray | None = None,
                         classifier=None) -> tuple[dict, list[tuple[bytes, str]]]:
    """IS, FID, label accuracy, PRD and PRDC of generated vs real images, with the report's figures
    (PRD curve, class histogram, classifier confidence, PCA and t-SNE of LeNet features), all read
    from ``classifier`` (the packaged MNIST LeNet by default). The real images' own inception
    score and accuracy come with them (``real_inception_score``, ``real_label_accuracy``).

    ``real_train`` (optional, real images not in ``real``): adds ``fid_real_train``, the FID of as
    many real training images against ``real``, the floor a generator's FID is judged against."""
    from hepgan.metrics.image import (
        classify, frechet_distance_from_features, inception_score_from_probs, label_accuracy, prd_from_embeddings,
        prdc_from_embeddings,
    )

    probs_gen, feats_gen = classify(generated, classifier)
    probs_real, feats_real = classify(real, classifier)
    score = inception_score_from_probs(probs_gen, n_splits=IS_SPLITS)
    prd_result = prd_from_embeddings(feats_gen, feats_real, seed=seed)
    prdc_result = prdc_from_embeddings(feats_gen, feats_real)
    metrics = {
        "inception_score": float(score.mean), "inception_score_std": float(score.std),
        "fid": float(frechet_distance_from_features(feats_gen, feats_real)),
        "prd_auc": float(prd_result.auc), "prd_f8": float(prd_result.f_8), "prd_f1_8": float(prd_result.f_1_8),
        **{f"prdc_{k}": float(v) for k, v in dataclasses.asdict(prdc_result).items()},
        "predicted_class_histogram": np.bincount(probs_gen.argmax(1), minlength=10).tolist(),
        "n_generated": len(generated), "n_real": len(real),
        "real_inception_score": float(inception_score_from_probs(probs_real, n_splits=IS_SPLITS).mean),
        "real_label_accuracy": float((probs_real.argmax(1) == np.asarray(real_labels).reshape(-1)).mean()),
        "small_sample_warnings": small_sample_warnings(len(generated), len(real), IS_SPLITS),
    }
    if labels is not None:
        acc = label_accuracy(generated, labels, classifier)
        metrics["label_accuracy"] = float(acc.accuracy)
        metrics["per_class_accuracy"] = [float(a) for a in acc.per_class]
    if real_train is not None:
        _, feats_train = classify(real_train[: len(real)], classifier)
        metrics["fid_real_train"] = float(frechet_distance_from_features(feats_train, feats_real))
    real_counts = np.bincount(probs_real.argmax(1), minlength=10)
    figures = [(plots.curve(prd_result.recall, {"PRD": prd_result.precision}, "recall", "precision",
                            f"PRD (AUC {prd_result.auc:.3f})"), "precision-recall for distributions on LeNet features"),
               (plots.class_histogram(metrics["predicted_class_histogram"], real_counts, "predicted classes"),
                "LeNet classes of generated vs real images: a collapsed generator piles up in few bins"),
               (plots.confidence_histogram(probs_real.max(1), probs_gen.max(1), "classifier confidence"),
                "distribution of the LeNet's confidence, real vs generated")]
    centred = np.concatenate([feats_real, feats_gen])
    centred = centred - centred.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    pca = centred @ vt[:2].T
    n = len(feats_real)
    figures.append((plots.embedding_scatter(pca[:n], pca[n:], "PCA of LeNet features"), "PCA, real vs generated"))
    try:
        from sklearn.manifold import TSNE

        m = min(1000, n, len(feats_gen))
        sub = np.concatenate([feats_real[:m], feats_gen[:m]])
        emb = TSNE(n_components=2, random_state=seed, init="pca", perplexity=30).fit_transform(sub)
        figures.append((plots.embedding_scatter(emb[:m], emb[m:], "t-SNE of LeNet features"), "t-SNE, real vs generated"))
    except ImportError:
        figures.append((plots.embedding_scatter(pca[:n], pca[n:], "t-SNE unavailable: showing PCA"),
                        "t-SNE needs scikit-learn (pip install scikit-learn)"))
    return metrics, figures
