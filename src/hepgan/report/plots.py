"""The report's figures. Each function takes arrays and returns PNG bytes."""

from __future__ import annotations

import numpy as np

from hepgan.report.html import figure_png


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curves(records: list[dict]) -> bytes | None:
    """Every logged loss against the step."""
    train = [r for r in records if "validation" not in r]
    keys = sorted({k for r in train for k in r if k not in ("step", "time")})
    if not keys:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    steps = np.array([r["step"] for r in train])
    for key in keys:
        ax.plot(steps, [r.get(key, np.nan) for r in train], label=key, lw=1)
    ax.set_xlabel("step")
    ax.legend(fontsize=7, ncol=3)
    ax.set_title("training losses")
    return figure_png(fig)


def validation_curves(records: list[dict], select: str | None, best_step: int | None) -> bytes | None:
    """Validation metrics over training, with the selected checkpoint marked."""
    val = [r for r in records if "validation" in r]
    if not val:
        return None
    plt = _plt()
    keys = sorted(val[0]["validation"])
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    steps = [r["step"] for r in val]
    for ax, key in zip(axes[0], keys):
        ax.plot(steps, [r["validation"].get(key, np.nan) for r in val], marker=".")
        if key == select and best_step is not None:
            ax.axvline(best_step, color="red", ls="--", label=f"best (step {best_step})")
            ax.legend(fontsize=7)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
    fig.tight_layout()
    return figure_png(fig)


def response_resolution(rows: list[dict], marks: dict[float, str]) -> bytes:
    """Mean E_tot/E_inc and its relative width against energy, generated vs reference; ``marks``
    ({energy [GeV]: note}) draws a dotted line at energies training saw little or nothing of."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    e = np.array([r["energy_gev"] for r in rows])
    def column(who, key):  # undefined values (too few showers at an energy) are null in the rows
        return np.array([np.nan if r[who][key] is None else r[who][key] for r in rows], float)

    for who, style in (("reference", "o-"), ("generated", "s--")):
        a.errorbar(e, column(who, "mean"), yerr=column(who, "mean_err"), fmt=style, label=who, ms=4)
        b.errorbar(e, column(who, "width"), yerr=column(who, "width_err"), fmt=style, label=who, ms=4)
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_xlabel("incident energy [GeV]")
        for x, note in marks.items():
            ax.axvline(x, color="orange", ls=":", label=f"{note} ({x:g} GeV)")
        ax.legend(fontsize=7)
    a.set_ylabel("<E_tot / E_inc>")
    b.set_ylabel("sigma / mean of E_tot / E_inc")
    b.set_yscale("log")
    fig.tight_layout()
    return figure_png(fig)


def observable_histograms(generated: dict[str, np.ndarray], reference: dict[str, np.ndarray], names: list[str],
                          title: str, separation: dict[str, float] | None = None) -> bytes:
    """Overlaid histograms of observables with a generated / reference ratio panel under each."""
    plt = _plt()
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig = plt.figure(figsize=(4 * cols, 3.2 * rows))
    grid = fig.add_gridspec(rows * 2, cols, height_ratios=[3, 1] * rows, hspace=0.05 + 0.35 * (rows > 1))
    for i, name in enumerate(names):
        r, c = divmod(i, cols)
        top = fig.add_subplot(grid[2 * r, c])
        bottom = fig.add_subplot(grid[2 * r + 1, c], sharex=top)
        ref, gen = reference[name], generated[name]
        ref, gen = ref[np.isfinite(ref)], gen[np.isfinite(gen)]
        if len(ref) == 0:
            top.set_title(f"{name}: no values", fontsize=8)
            continue
        lo, hi = np.quantile(ref, [0.005, 0.995])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, 41)
        h_ref, _ = np.histogram(np.clip(ref, lo, hi), edges, density=True)
        h_gen, _ = np.histogram(np.clip(gen, lo, hi), edges, density=True) if len(gen) else (np.zeros(40), None)
        top.stairs(h_ref, edges, label="reference", color="k")
        top.stairs(h_gen, edges, label="generated", color="tab:red")
        label = name if not separation or name not in separation else f"{name}  (S = {separation[name]:.3g})"
        top.set_title(label, fontsize=8)
        top.tick_params(labelbottom=False, labelsize=7)
        with np.errstate(divide="ignore", invalid="ignore"):
            bottom.stairs(np.where(h_ref > 0, h_gen / h_ref, np.nan), edges, color="tab:red")
        bottom.axhline(1.0, color="k", lw=0.5)
        bottom.set_ylim(0.5, 1.5)
        bottom.tick_params(labelsize=7)
        if i == 0:
            top.legend(fontsize=7)
    fig.suptitle(title)
    return figure_png(fig, dpi=70)


def layer_images(generated: np.ndarray, reference: np.ndarray, geometry) -> bytes:
    """Average shower per layer (log colour scale), reference on top, generated below."""
    plt = _plt()
    from matplotlib.colors import LogNorm

    layers = geometry.layers
    fig, axes = plt.subplots(2, len(layers), figsize=(3 * len(layers), 5), squeeze=False)
    for j, (ref, gen) in enumerate(zip(geometry.split(reference), geometry.split(generated))):
        mean_ref, mean_gen = ref.mean(0), gen.mean(0)
        vmax = max(mean_ref.max(), mean_gen.max(), 1e-6)
        norm = LogNorm(vmin=max(vmax * 1e-4, 1e-6), vmax=vmax)
        for row, image, who in ((0, mean_ref, "reference"), (1, mean_gen, "generated")):
            ax = axes[row, j]
            ax.imshow(np.maximum(image, vmax * 1e-4).T, origin="lower", aspect="auto", norm=norm, cmap="viridis")
            ax.set_title(f"{who}: {layers[j].name}", fontsize=8)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    return figure_png(fig)


def image_grid(images: np.ndarray, labels: np.ndarray | None, title: str) -> bytes:
    """Up to 10 samples per class (rows = classes) or an 8x8 grid without labels."""
    plt = _plt()
    if labels is not None:
        classes = np.unique(labels)
        picks = [np.flatnonzero(labels == c)[:10] for c in classes]
        fig, axes = plt.subplots(len(classes), 10, figsize=(10, len(classes)), squeeze=False)
        for r, idx in enumerate(picks):
            for c in range(10):
                ax = axes[r, c]
                ax.axis("off")
                if c < len(idx):
                    ax.imshow(images[idx[c]].reshape(28, 28), cmap="gray", vmin=0, vmax=255)
    else:
        fig, axes = plt.subplots(8, 8, figsize=(8, 8))
        for i, ax in enumerate(axes.ravel()):
            ax.axis("off")
            if i < len(images):
                ax.imshow(images[i].reshape(28, 28), cmap="gray", vmin=0, vmax=255)
    fig.suptitle(title)
    return figure_png(fig, dpi=60)


def curve(x: np.ndarray, ys: dict[str, np.ndarray], xlabel: str, ylabel: str, title: str) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for label, y in ys.items():
        ax.plot(x, y, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return figure_png(fig)


def embedding_scatter(real: np.ndarray, generated: np.ndarray, title: str) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.4, label="real")
    ax.scatter(generated[:, 0], generated[:, 1], s=3, alpha=0.4, label="generated")
    ax.set_title(title)
    ax.legend(fontsize=7, markerscale=3)
    return figure_png(fig)


def class_histogram(generated_counts, real_counts, title: str) -> bytes:
    """Bar chart of LeNet-predicted classes, generated vs real (fractions): mode collapse piles up."""
    plt = _plt()
    gen = np.asarray(generated_counts, float)
    real = np.asarray(real_counts, float)
    x = np.arange(len(gen))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(x - 0.2, real / max(real.sum(), 1), width=0.4, label="real")
    ax.bar(x + 0.2, gen / max(gen.sum(), 1), width=0.4, label="generated")
    ax.set_xticks(x)
    ax.set_xlabel("LeNet class")
    ax.set_ylabel("fraction")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return figure_png(fig)


def confidence_histogram(real: np.ndarray, generated: np.ndarray, title: str) -> bytes:
    """Distributions of the classifier's confidence (max softmax probability), real vs generated."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    bins = np.linspace(0.0, 1.0, 41)
    ax.hist(real, bins=bins, histtype="step", density=True, label="real")
    ax.hist(generated, bins=bins, histtype="step", density=True, label="generated")
    ax.set_yscale("log")
    ax.set_xlabel("max softmax probability")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left")
    return figure_png(fig)


def sample_evolution(snapshots: list[tuple[int, np.ndarray]], per_row: int = 10) -> bytes:
    """One row of generated images per saved training step (the trainer's samples/step-*.npz)."""
    plt = _plt()
    rows = len(snapshots)
    fig, axes = plt.subplots(rows, per_row, figsize=(per_row, rows + 0.3), squeeze=False)
    for r, (step, images) in enumerate(snapshots):
        for c in range(per_row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(images):
                ax.imshow(images[c].reshape(28, 28), cmap="gray", vmin=0, vmax=255)
        axes[r, 0].set_ylabel(f"{step}", rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle("samples over training (rows: step)")
    return figure_png(fig, dpi=60)
