"""Classifier two-sample test: how well can a classifier tell generated from reference showers?

The 2022 CaloChallenge's headline metric. A classifier is trained on equal numbers of reference
(label 0) and generated (label 1) samples, split 60/20/20 into train / validation / test; the
validation split drives early stopping and then calibrates the output (isotonic regression), the
test split gives the scores. 0.5 = indistinguishable, 1 = trivially told apart.

- ROC AUC on the test split (ties count 1/2), with a stratified bootstrap standard deviation.
- JSD in bits from the calibrated probability p = P(generated | x), which for balanced classes
  estimates p_gen / (p_gen + p_ref): JSD = (E_gen[log2 2p] + E_ref[log2 2(1 - p)]) / 2, between
  0 (same distribution) and 1 (disjoint); p / (1 - p) is the likelihood ratio p_gen / p_ref.

Two models, by input type:
- ``"mlp"`` (low-level: every cell as log(1 + E / MeV), plus log incident energy): a torch MLP,
  2 x 128 LeakyReLU hidden layers (as good as 2 x 256 on atlas266 cells, in half the time), Adam,
  batches of 512, inputs standardised on the training split, early stopping on the validation
  loss (patience 3, at most ``max_epochs`` = 12 epochs), best weights restored.
- ``"hgb"`` (high-level observables): scikit-learn's histogram gradient boosting, grown in
  rounds of 20 trees (at most ``max_trees`` = 200) while the validation loss improves (patience
  2 rounds), then cut back to the tree count with the lowest validation loss. Boosted trees are
  the stronger and faster choice on a few dozen tabular features, and need no feature scaling.

The MLP never copies its input: the splits are row indices into the two arrays, and each batch
is gathered and standardised on its own, so the memory it needs beyond its (float32 or float64)
inputs does not grow with them (CaloChallenge dataset 3 has 40,500 cells a shower).

Both are seeded and deterministic for a given machine and thread count; torch's global random
state is left untouched. ``threads`` caps the CPU threads both use (torch, OpenMP, BLAS) for the
duration of the test: on a machine that other jobs keep busy, one thread avoids the spin-waiting
that can make small multi-threaded steps tens of times slower.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import numpy as np

MODELS = ("mlp", "hgb")
EPS = 1e-7


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting 1/2."""
    return float(_weighted_auc(np.asarray(scores, np.float64), np.asarray(labels).astype(bool), None)[0])


def roc_auc_bootstrap(scores: np.ndarray, labels: np.ndarray, n_bootstrap: int = 200,
                      seed: int = 0) -> tuple[float, float]:
    """AUC and its stratified-bootstrap standard deviation (classes resampled separately)."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).astype(bool)
    auc = float(_weighted_auc(scores, labels, None)[0])
    if n_bootstrap < 2:
        return auc, float("nan")
    rng = np.random.default_rng(seed)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    values = []
    per_chunk = max(1, 2**22 // max(labels.size, 1))
    for start in range(0, n_bootstrap, per_chunk):
        reps = min(per_chunk, n_bootstrap - start)
        weights = np.empty((reps, labels.size))
        weights[:, labels] = rng.multinomial(n_pos, np.full(n_pos, 1.0 / n_pos), size=reps)
        weights[:, ~labels] = rng.multinomial(n_neg, np.full(n_neg, 1.0 / n_neg), size=reps)
        values.append(_weighted_auc(scores, labels, weights))
    return auc, float(np.std(np.concatenate(values), ddof=1))


def _weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """AUC for each row of per-sample weights (None = all 1), exact with ties, O(n log n)."""
    if labels.all() or not labels.any():
        raise ValueError("AUC needs samples of both classes")
    order = np.argsort(scores, kind="stable")
    s, lab = scores[order], labels[order]
    w = np.ones((1, s.size)) if weights is None else weights[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first index of each group of tied scores
    pos = np.add.reduceat(w * lab, starts, axis=1)
    neg = np.add.reduceat(w * ~lab, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def jsd_bits(p_generated: np.ndarray, labels: np.ndarray) -> float:
    """Jensen-Shannon divergence (bits) from calibrated P(generated | x) on a balanced test set."""
    p = np.clip(np.asarray(p_generated, np.float64), EPS, 1 - EPS)
    labels = np.asarray(labels).astype(bool)
    return float(0.5 * np.mean(np.log2(2 * p[labels])) + 0.5 * np.mean(np.log2(2 * (1 - p[~labels]))))


def low_level_inputs(showers: np.ndarray, incident_energies_mev: np.ndarray,
                     extra: list[np.ndarray] | None = None) -> np.ndarray:
    """Cells as log(1 + E / MeV) (negative cells as 0), log(E_inc / MeV), then ``extra`` columns."""
    cells = np.log1p(np.clip(np.asarray(showers, np.float64), 0.0, None))
    columns = [cells, np.log(np.asarray(incident_energies_mev, np.float64).reshape(-1, 1))]
    columns += [np.asarray(e, np.float64).reshape(-1, 1) for e in (extra or [])]
    return np.concatenate(columns, axis=1)


def classifier_test(
    reference: np.ndarray,
    generated: np.ndarray,
    *,
    model: str = "mlp",
    seed: int = 0,
    max_per_class: int | None = None,
    n_bootstrap: int = 200,
    max_epochs: int = 12,
    patience: int = 3,
    max_trees: int = 200,
    threads: int | None = None,
) -> dict:
    """Train ``model`` to separate ``generated`` (N, d) from ``reference`` (M, d); test-split metrics.

    Classes are balanced by using min(N, M, max_per_class) rows of each, chosen at random.
    """
    if model not in MODELS:
        raise ValueError(f"unknown classifier {model!r}; valid: {', '.join(MODELS)}")
    x_ref = _floats(reference, model)
    x_gen = _floats(generated, model)
    if x_ref.ndim != 2 or x_gen.ndim != 2 or x_ref.shape[1] != x_gen.shape[1]:
        raise ValueError(f"classifier_test needs two (N, d) arrays with the same d, got {x_ref.shape}, {x_gen.shape}")
    n = min(len(x_ref), len(x_gen), max_per_class or len(x_ref))
    if n < 10:
        raise ValueError(f"classifier_test needs at least 10 samples per class, got {n}")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    i_ref = rng.permutation(len(x_ref))[:n]
    i_gen = rng.permutation(len(x_gen))[:n]
    cut1, cut2 = round(0.6 * n), round(0.8 * n)
    splits = {name: _Split(x_ref, x_gen, i_ref[rows], i_gen[rows])
              for name, rows in (("train", slice(0, cut1)), ("val", slice(cut1, cut2)), ("test", slice(cut2, n)))}
    if model == "mlp":
        import torch  # noqa: F401  (loaded before the thread limit is set, so the limit covers it)
    with limited_threads(threads):
        if model == "mlp":
            s_val, s_test, info = _fit_mlp(splits, seed, max_epochs, patience)
        else:
            s_val, s_test, info = _fit_hgb(splits, seed, max_trees)
    from sklearn.isotonic import IsotonicRegression

    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s_val, splits["val"].y)
    y_test = splits["test"].y
    auc, auc_err = roc_auc_bootstrap(s_test, y_test, n_bootstrap=n_bootstrap, seed=seed)
    return {
        "model": model,
        "auc": auc,
        "auc_err": auc_err,
        "auc_val": roc_auc(s_val, splits["val"].y),
        "jsd_bits": jsd_bits(calibrator.predict(s_test), y_test),
        "n_train": len(splits["train"]),
        "n_val": len(splits["val"]),
        "n_test": len(y_test),
        "n_features": int(x_ref.shape[1]),
        "seconds": time.perf_counter() - start,
    } | info


def _floats(x, model: str) -> np.ndarray:
    """The MLP takes float32 or float64 as given (no copy of a large cell matrix); the rest float64."""
    x = np.asarray(x)
    if model == "mlp" and x.dtype in (np.float32, np.float64):
        return x
    return x.astype(np.float64, copy=False)


class _Split:
    """The rows of one split as indices into the two inputs (reference rows first, label 0)."""

    def __init__(self, x_ref: np.ndarray, x_gen: np.ndarray, i_ref: np.ndarray, i_gen: np.ndarray):
        self.x_ref, self.x_gen, self.i_ref, self.i_gen = x_ref, x_gen, i_ref, i_gen
        self.y = np.r_[np.zeros(len(i_ref)), np.ones(len(i_gen))]
        self.dtype = np.result_type(x_ref.dtype, x_gen.dtype)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def width(self) -> int:
        return int(self.x_ref.shape[1])

    def rows(self, positions: np.ndarray | None = None) -> np.ndarray:
        """The rows at ``positions`` of the split (all of them when None), copied out."""
        if positions is None:
            positions = np.arange(len(self))
        positions = np.asarray(positions)
        out = np.empty((len(positions), self.width), self.dtype)
        is_ref = positions < len(self.i_ref)
        out[is_ref] = self.x_ref[self.i_ref[positions[is_ref]]]
        out[~is_ref] = self.x_gen[self.i_gen[positions[~is_ref] - len(self.i_ref)]]
        return out

    def blocks(self, max_values: int = 2**22):
        """(positions, rows) of consecutive blocks of the split, each at most ``max_values`` values."""
        step = max(1, max_values // max(self.width, 1))
        for start in range(0, len(self), step):
            positions = np.arange(start, min(start + step, len(self)))
            yield positions, self.rows(positions)


@contextmanager
def limited_threads(threads: int | None):
    """Run the block with at most ``threads`` torch / OpenMP / BLAS threads (None: no change)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


def _fit_mlp(splits, seed: int, max_epochs: int, patience: int, batch_size: int = 512, lr: float = 1e-3,
             hidden: tuple[int, ...] = (128, 128)):
    """Train the MLP with early stopping; return validation and test logits and training info."""
    import torch
    from torch import nn

    train = splits["train"]
    total = np.zeros(train.width)
    for _, x in train.blocks():
        total += x.sum(axis=0, dtype=np.float64)
    mean = total / len(train)
    squares = np.zeros(train.width)
    for _, x in train.blocks():
        dev = x - mean  # float64 whatever the input
        squares += (dev * dev).sum(axis=0)
    std = np.sqrt(squares / len(train))
    std = np.where(std > 0, std, 1.0)

    def tensor(x):
        z = x.astype(np.float64)
        z -= mean
        z /= std
        return torch.from_numpy(z.astype(np.float32))

    def logits(net, split):
        return torch.cat([net(tensor(x)).squeeze(1) for _, x in split.blocks()])

    ys = {k: torch.from_numpy(split.y.astype(np.float32)) for k, split in splits.items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers, width = [], train.width
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        net = nn.Sequential(*layers, nn.Linear(width, 1))
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        loss_fn = nn.BCEWithLogitsLoss()
        order = torch.Generator().manual_seed(seed)
        best, best_state, since, epochs = float("inf"), None, 0, 0
        for epoch in range(max_epochs):
            net.train()
            perm = torch.randperm(len(ys["train"]), generator=order)
            for i in range(0, len(perm), batch_size):
                idx = perm[i : i + batch_size]
                opt.zero_grad()
                loss_fn(net(tensor(train.rows(idx.numpy()))).squeeze(1), ys["train"][idx]).backward()
                opt.step()
            epochs = epoch + 1
            net.eval()
            with torch.no_grad():
                val = float(loss_fn(logits(net, splits["val"]), ys["val"]))
            if val < best - 1e-5:
                best, since = val, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                since += 1
                if since >= patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        with torch.no_grad():
            s_val = logits(net, splits["val"]).double().numpy()
            s_test = logits(net, splits["test"]).double().numpy()
    return s_val, s_test, {"epochs": epochs, "val_loss": best}


def _fit_hgb(splits, seed: int, max_trees: int, step: int = 20, patience: int = 2):
    """Grow boosted trees in rounds while the validation loss improves; cut back to the best count."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x_train, y_train = splits["train"].rows(), splits["train"].y
    x_val, y_val = splits["val"].rows(), splits["val"].y
    clf = HistGradientBoostingClassifier(max_iter=step, learning_rate=0.1, early_stopping=False,
                                         warm_start=True, random_state=seed)
    best, since = float("inf"), 0
    while True:
        clf.fit(x_train, y_train)
        loss = _log_loss(y_val, clf.predict_proba(x_val)[:, 1])
        if loss < best - 1e-6:
            best, since = loss, 0
        else:
            since += 1
        if since >= patience or clf.max_iter >= max_trees:
            break
        clf.set_params(max_iter=clf.max_iter + step)
    val_losses = [_log_loss(y_val, p[:, 1]) for p in clf.staged_predict_proba(x_val)]
    n_trees = int(np.argmin(val_losses)) + 1

    def scores(x):
        for i, p in enumerate(clf.staged_decision_function(x), start=1):
            if i == n_trees:
                return np.asarray(p, np.float64).ravel()

    return scores(x_val), scores(splits["test"].rows()), {"trees": n_trees, "val_loss": float(val_losses[n_trees - 1])}


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


__all__ = ["MODELS", "classifier_test", "jsd_bits", "low_level_inputs", "roc_auc", "roc_auc_bootstrap"]
