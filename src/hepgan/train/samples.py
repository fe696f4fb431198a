"""Sample sets saved during training, to look at how a run evolves: an .npz with the generated
and reference samples (physical units) and their conditions, and a PNG to glance at (a grid for
images; total-energy response and layer energies for showers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_sample_set(directory: Path, step: int, generated: np.ndarray, reference: np.ndarray,
                    conditions: dict[str, np.ndarray], kind: str, geometry: str | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"step-{step:09d}"
    np.savez_compressed(stem.with_suffix(".npz"), generated=generated, reference=reference,
                        **{f"cond_{k}": v for k, v in conditions.items()})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if kind == "images":
        fig = _image_grid(plt, generated, step)
    else:
        fig = _shower_panels(plt, generated, reference, conditions, geometry, step)
    fig.savefig(stem.with_suffix(".png"), dpi=80)
    plt.close(fig)
    return stem.with_suffix(".npz")


def _image_grid(plt, images: np.ndarray, step: int):
    n = min(len(images), 64)
    cols = 8
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].reshape(images.shape[-2], images.shape[-1]), cmap="gray", vmin=0, vmax=255)
    fig.suptitle(f"step {step}")
    return fig


def _shower_panels(plt, generated, reference, conditions, geometry, step):
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    energy = conditions.get("energy")
    if energy is not None:
        bins = np.linspace(0.5, 1.2, 50)
        left.hist(reference.sum(1) / energy, bins=bins, histtype="step", label="reference")
        left.hist(generated.sum(1) / energy, bins=bins, histtype="step", label="generated")
        left.set_xlabel("E_tot / E_inc")
        left.legend()
    if geometry is not None:
        from hepgan.geometry import get_geometry

        g = get_geometry(geometry)
        x = np.arange(len(g.layers))
        right.bar(x - 0.2, g.layer_energies(reference).mean(0), width=0.4, label="reference")
        right.bar(x + 0.2, g.layer_energies(generated).mean(0), width=0.4, label="generated")
        right.set_xticks(x, [layer.name for layer in g.layers], rotation=45, fontsize=7)
        right.set_yscale("log")
        right.set_ylabel("mean layer energy [MeV]")
    fig.suptitle(f"step {step}")
    fig.tight_layout()
    return fig
