"""Does generated data help a classifier? The two downstream studies of the MNIST
GAN coursework studies, with the metric LeNet.

(a) :func:`mix_study`: train the LeNet on the real training images plus generated images amounting
    to 0/10/20/50/100 % of them (labels: those the images were conditioned on), test on the MNIST
    test set. The coursework studies saw +0.3 % test accuracy at ~30 % generated data.
(b) :func:`few_shot_study`: with only 550 real images (55 per class), train on them alone, versus
    pre-train on generated images and fine-tune on the 550. The coursework studies went from 88 % to 92 %.

Training is the packaged LeNet's recipe made small: Adam with a one-cycle learning rate, random
translations of up to 2 pixels, deterministic for a given seed (on one thread). Images are
0..255, (N, 28, 28) or (N, 784) or (N, 1, 28, 28).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from hepgan.errors import DataError
from hepgan.metrics.image.lenet import LeNet, preprocess


@dataclass
class DownstreamResult:
    """One trained classifier: what it was trained on and its test accuracy."""

    name: str
    n_real: int
    n_generated: int
    test_accuracy: float
    seconds: float


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each preprocessed image (N, 1, 28, 28) by up to ``max_shift`` pixels (zero-padded)."""
    if max_shift == 0:
        return x
    n, size = len(x), x.shape[-1]
    background = float(preprocess(np.zeros((1, 784), np.float32)).flatten()[0])
    padded = F.pad(x, (max_shift,) * 4, value=background)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(size)[None, :])[:, None, :, None].expand(n, 1, size, size + 2 * max_shift)
    cropped = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(size)[None, :])[:, None, None, :].expand(n, 1, size, size)
    return cropped.gather(3, cols)


def train_classifier(images, labels, *, epochs: int = 2, seed: int = 0, lr: float = 3e-3, batch_size: int = 128,
                     shift: int = 2, init: LeNet | None = None, min_steps: int = 0) -> LeNet:
    """A LeNet trained on ``images`` (0..255) and integer ``labels``; ``init`` continues from a
    trained network (fine-tuning) instead of fresh weights. ``min_steps`` raises the number of
    epochs so that small sets still get that many updates."""
    x = preprocess(images)
    y = torch.as_tensor(np.asarray(labels).reshape(-1), dtype=torch.long)
    if len(x) != len(y) or len(x) == 0:
        raise DataError("labels", f"{len(y)} labels for {len(x)} images")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = LeNet()
    if init is not None:
        model.load_state_dict(init.state_dict())
    model.requires_grad_(True)
    per_epoch = (len(x) + batch_size - 1) // batch_size
    epochs = max(epochs, -(-min_steps // per_epoch))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, epochs=epochs, steps_per_epoch=per_epoch)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for i in range(per_epoch):
            idx = order[i * batch_size : (i + 1) * batch_size]
            loss = F.cross_entropy(model(random_shift(x[idx], shift, generator)), y[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: LeNet, images, labels) -> float:
    """Test accuracy of ``model`` on ``images`` (0..255) with true ``labels``."""
    from hepgan.metrics.image.lenet import predict_proba

    return float((predict_proba(images, model).argmax(1) == np.asarray(labels).reshape(-1)).mean())


def _balanced_labels(n: int, seed: int, n_classes: int = 10) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.arange(n) % n_classes)


def mix_study(generate, real_images, real_labels, test_images, test_labels, *,
              fractions=(0.0, 0.1, 0.2, 0.5, 1.0), epochs: int = 2, seed: int = 0) -> list[DownstreamResult]:
    """(a): the LeNet on the real images plus ``fraction * len(real)`` generated ones, per fraction.

    ``generate(labels, seed)`` returns images (0..255) of the given classes (e.g. a
    :class:`~hepgan.train.generator.TrainedGenerator`'s ``generate(labels=..., seed=...)``).
    """
    out = []
    real_images = np.asarray(real_images).reshape(len(real_images), -1)
    for i, fraction in enumerate(fractions):
        start = time.perf_counter()
        n_gen = int(round(fraction * len(real_images)))
        x, y = real_images, np.asarray(real_labels)
        if n_gen:
            labels = _balanced_labels(n_gen, seed + 1000 + i)
            fake = np.asarray(generate(labels, seed + 1000 + i)).reshape(n_gen, -1)
            x, y = np.concatenate([x, fake]), np.concatenate([y, labels])
        model = train_classifier(x, y, epochs=epochs, seed=seed)
        out.append(DownstreamResult(f"real + {fraction:.0%} generated", len(real_images), n_gen,
                                    accuracy(model, test_images, test_labels), time.perf_counter() - start))
    return out


def few_shot_subset(labels, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` images of every class, drawn at random."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    picks = []
    for c in np.unique(labels):
        pool = np.flatnonzero(labels == c)
        if len(pool) < per_class:
            raise DataError("labels", f"class {c} has {len(pool)} images, fewer than {per_class}")
        picks.append(rng.choice(pool, per_class, replace=False))
    return np.sort(np.concatenate(picks))


def few_shot_study(generate, real_images, real_labels, test_images, test_labels, *, per_class: int = 55,
                   n_generated: int = 20_000, pretrain_epochs: int = 2, finetune_steps: int = 300,
                   joint: bool = True, seed: int = 0) -> list[DownstreamResult]:
    """(b): ``per_class`` real images per class alone, versus pre-training on ``n_generated``
    generated images then fine-tuning on the real ones (the same number of updates as alone),
    and (``joint``) training on both together, the real images repeated to make up ~20 % of the
    set, for ``pretrain_epochs``."""
    idx = few_shot_subset(real_labels, per_class, seed)
    x_real, y_real = np.asarray(real_images)[idx], np.asarray(real_labels)[idx]
    out = []
    start = time.perf_counter()
    alone = train_classifier(x_real, y_real, epochs=1, min_steps=finetune_steps, seed=seed, batch_size=64)
    out.append(DownstreamResult(f"{len(idx)} real only", len(idx), 0, accuracy(alone, test_images, test_labels),
                                time.perf_counter() - start))
    start = time.perf_counter()
    labels = _balanced_labels(n_generated, seed + 2000)
    fake = np.asarray(generate(labels, seed + 2000)).reshape(n_generated, -1)
    pre = train_classifier(fake, labels, epochs=pretrain_epochs, seed=seed)
    out.append(DownstreamResult(f"{n_generated} generated only", 0, n_generated,
                                accuracy(pre, test_images, test_labels), time.perf_counter() - start))
    tuned = train_classifier(x_real, y_real, epochs=1, min_steps=finetune_steps, seed=seed, batch_size=64,
                             lr=3e-4, init=pre)
    out.append(DownstreamResult(f"pre-trained on {n_generated} generated, fine-tuned on {len(idx)} real", len(idx),
                                n_generated, accuracy(tuned, test_images, test_labels), time.perf_counter() - start))
    if joint:
        start = time.perf_counter()
        reps = max(1, round(0.25 * n_generated / len(idx)))
        x = np.concatenate([np.tile(x_real.reshape(len(idx), -1), (reps, 1)), fake])
        y = np.concatenate([np.tile(y_real, reps), labels])
        both = train_classifier(x, y, epochs=pretrain_epochs, seed=seed)
        out.append(DownstreamResult(f"{len(idx)} real (x{reps}) + {n_generated} generated, trained together", len(idx),
                                    n_generated, accuracy(both, test_images, test_labels), time.perf_counter() - start))
    return out


def format_downstream_table(results: list[DownstreamResult], study_figures: dict[str, str] | None = None) -> str:
    """Markdown: training set, sizes, test accuracy (and the coursework studies' figure where given)."""
    study_figures = study_figures or {}
    lines = ["| training set | real | generated | test accuracy | coursework studies' figure | time [s] |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.name} | {r.n_real} | {r.n_generated} | {r.test_accuracy:.4f} | "
                     f"{study_figures.get(r.name, '')} | {r.seconds:.0f} |")
    return "\n".join(lines) + "\n"


__all__ = ["DownstreamResult", "accuracy", "few_shot_study", "few_shot_subset", "format_downstream_table",
           "mix_study", "random_shift", "train_classifier"]
