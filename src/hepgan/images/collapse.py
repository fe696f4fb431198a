"""Mode collapse measured, not eyeballed: what the LeNet says the generated digits are, and how
much of the real distribution the generated one covers.

- ``class_histogram``: counts of LeNet-predicted classes among the generated images; a collapsed
  generator (the MNIST GAN coursework studies' vanilla GAN drew only "1"s) piles up in few bins.
- ``effective_classes``: exp(entropy of that histogram), 10 for perfectly balanced digits, 1 for
  one digit; ``max_class_fraction``: the largest bin's share (0.1 when balanced).
- ``prdc_recall`` / ``prdc_coverage`` (k-NN on LeNet features, Naeem et al. 2020): the share of
  real images with a generated image nearby. A collapsed generator can have high precision (its
  few digits look real) but low recall and coverage.
- ``inception_score`` (10 splits) for reference.
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import DataError


def collapse_diagnostics(generated, reference, k: int = 5) -> dict:
    """Mode-collapse numbers of ``generated`` against ``reference`` images (0..255, (N, 28, 28) or
    (N, 784) or (N, 1, 28, 28)); both sets should hold the same number of images."""
    from hepgan.metrics.image import classify, inception_score_from_probs, prdc_from_embeddings

    if len(generated) < 2 * k or len(reference) < 2 * k:
        raise DataError("images", f"need at least {2 * k} generated and reference images")
    probs, feats = classify(generated)
    _, feats_ref = classify(reference)
    counts = np.bincount(probs.argmax(1), minlength=probs.shape[1])
    share = counts / counts.sum()
    nonzero = share[share > 0]
    result = prdc_from_embeddings(feats, feats_ref, k=k)
    return {
        "class_histogram": counts.tolist(),
        "max_class_fraction": float(share.max()),
        "effective_classes": float(np.exp(-(nonzero * np.log(nonzero)).sum())),
        "inception_score": float(inception_score_from_probs(probs, n_splits=min(10, len(probs))).mean),
        "prdc_precision": float(result.precision),
        "prdc_recall": float(result.recall),
        "prdc_coverage": float(result.coverage),
    }


def format_collapse_table(rows: dict[str, dict]) -> str:
    """A Markdown table: one row per named diagnosis (from :func:`collapse_diagnostics`)."""
    header = ["model", "class histogram (LeNet, 0-9)", "max class share", "effective classes", "IS",
              "precision", "recall", "coverage"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for name, d in rows.items():
        lines.append(f"| {name} | {' '.join(str(c) for c in d['class_histogram'])} | {d['max_class_fraction']:.3f} | "
                     f"{d['effective_classes']:.2f} | {d['inception_score']:.2f} | {d['prdc_precision']:.3f} | "
                     f"{d['prdc_recall']:.3f} | {d['prdc_coverage']:.3f} |")
    return "\n".join(lines) + "\n"


__all__ = ["collapse_diagnostics", "format_collapse_table"]
