"""Turn a data config into model-space tensors: showers or images, conditions, validation split.

Everything the trained model needs to map its outputs back to physics travels in
:class:`PreparedData`: the fitted preprocessing transform, the condition encoder and the
geometry name.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hepgan.data.conditions import ConditionEncoder
from hepgan.data.showers import ShowerData
from hepgan.data.transforms import Pipeline, Transform, transform_from_dict
from hepgan.errors import ConfigError
from hepgan.geometry.base import DERIVED_CONDITIONS
from hepgan.train.config import ImageDataConfig, ShowerDataConfig, TrainConfig
from hepgan.train.rng import epoch_permutation
from hepgan.train.streamed import StreamedRows

CONDITION_SOURCES = {"energy": None, "impact_eta": "impact_eta", "impact_phi": "impact_phi"}


@dataclass
class Split:
    """Model-space samples with their encoded conditions (and raw labels / energies for metrics).

    ``x`` is a tensor, or :class:`StreamedRows` for showers read from their file as training goes.
    """

    x: torch.Tensor | StreamedRows
    cond: torch.Tensor
    labels: torch.Tensor | None = None
    energies_mev: np.ndarray | None = None
    physical: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def streamed(self) -> bool:
        return isinstance(self.x, StreamedRows)

    def order(self, seed: int, epoch: int) -> torch.Tensor:
        """The rows of one epoch in training order (a function of seed and epoch only)."""
        return self.x.order(seed, epoch) if self.streamed else epoch_permutation(len(self), seed, epoch)

    def fitting_rows(self, max_bytes: int = 512 << 20) -> tuple[torch.Tensor, torch.Tensor, np.ndarray | None]:
        """Samples, conditions and incident energies (MeV; None for images) to fit data-dependent
        parts of a model on: all of them in memory, rows spread over the file (at most
        ``max_bytes`` of them) when streamed."""
        if not self.streamed:
            return self.x, self.cond, self.energies_mev
        at = self.x.spread(max(1, max_bytes // (4 * self.x.n_cells)))
        return self.x[at], self.cond[torch.from_numpy(at)], self.energies_mev[at]


@dataclass
class PreparedData:
    train: Split
    val: Split | None
    sample_shape: tuple[int, ...]
    encoder: ConditionEncoder
    transform: Transform | None
    geometry: str | None
    kind: str

    @property
    def cond_dim(self) -> int:
        return self.encoder.dim

    def to_physical(self, x: np.ndarray, energies_mev: np.ndarray | None) -> np.ndarray:
        """Model-space samples back to MeV showers (or 0-255 images)."""
        if self.kind == "images":
            return np.clip((x + 1.0) * 127.5, 0.0, 255.0)
        flat = x.reshape(x.shape[0], -1).astype(np.float64)
        return self.transform.inverse(flat, energies_mev[:, None]) if self.transform else flat


def prepare_data(config: TrainConfig) -> PreparedData:
    if isinstance(config.data, ImageDataConfig):
        return _prepare_images(config)
    return _prepare_showers(config)


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation rows: a fixed function of (n, fraction, seed), so the report finds the same split."""
    order = np.random.default_rng([seed, 7]).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def partition_showers(data, cfg: ShowerDataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (used for training and validation, held out entirely): showers at
    ``exclude_energies_gev`` and those beyond the first N at a ``scarce_energies_gev`` energy are
    held out (the interpolation and soft-extrapolation tests); ``max_events`` then caps the rest.
    The trainer and the report both call this, so they agree on what the model never saw."""
    energies = data.incident_energies[:, 0].astype(np.float64)
    held_out = np.zeros(len(data), bool)
    for e in cfg.exclude_energies_gev:
        held_out |= np.isclose(energies, e * 1000.0, rtol=1e-6)
    for e, n in cfg.scarce_energies_gev.items():
        at = np.isclose(energies, e * 1000.0, rtol=1e-6)
        if not at.any():
            raise ConfigError(f"data.scarce_energies_gev: the data have no showers at {e:g} GeV")
        held_out |= at & (np.cumsum(at) > n)
    used = ~held_out
    if cfg.max_events is not None:
        used &= np.cumsum(used) <= cfg.max_events
    return used, held_out


def simulation_cache_path(cfg: ShowerDataConfig) -> Path:
    """Where the simulated showers of ``cfg.simulate`` are cached: named by the settings' hash."""
    digest = hashlib.sha256(json.dumps(cfg.simulate.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
    return Path(cfg.cache_dir) / f"sim-{cfg.simulate.geometry}-{digest}.h5"


def load_shower_source(cfg: ShowerDataConfig) -> ShowerData:
    """The configured showers, simulating (once, cached by config hash) when asked to."""
    if cfg.path is not None:
        from hepgan.data.io import load_showers

        return load_showers(cfg.path, geometry=cfg.geometry)
    from hepgan.data.hdf5 import read_showers

    return read_showers(shower_file(cfg))


def shower_file(cfg: ShowerDataConfig) -> Path | None:
    """The CaloChallenge HDF5 file holding the configured showers (simulated and cached first when
    asked to), or None when they come from another format, which is read whole."""
    if cfg.path is not None:
        from hepgan.data.io import detect_format, is_calogan_file

        path = Path(cfg.path)
        return path if path.is_file() and detect_format(path) == "hdf5" and not is_calogan_file(path) else None
    from hepgan.sim import simulate

    cache = simulation_cache_path(cfg)
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        simulate(cfg.simulate, out=cache, workers=min(2, os.cpu_count() or 1))
    return cache


def _prepare_showers(config: TrainConfig) -> PreparedData:
    cfg = config.data
    path = shower_file(cfg)
    if path is None:
        data = load_shower_source(cfg)
        labels = ShowerData(np.zeros((len(data), 0), np.float32), data.incident_energies, data.conditions)
        geometry, n_cells = data.geometry, data.n_cells
    else:
        from hepgan.data.hdf5 import ShowerFile

        with ShowerFile(path, geometry=cfg.geometry) as f:
            energies, conditions = f.read_conditions()
            geometry, n_cells = f.geometry, f.n_cells
        labels = ShowerData(np.zeros((len(energies), 0), np.float32), energies, conditions, source=str(path))
        data = None
    if geometry is None and cfg.geometry is None:
        raise ConfigError(f"{cfg.path}: the file names no geometry; set data.geometry")
    geometry = cfg.geometry or geometry
    used, _ = partition_showers(labels, cfg)
    rows = np.flatnonzero(used)
    labels = labels.subset(rows)
    if len(labels) < 2:
        raise ConfigError(f"data: only {len(labels)} showers left after exclusions; need at least 2")
    physical = {"energy": labels.incident_energies[:, 0].astype(np.float64)}
    for name in cfg.conditions:
        if name in DERIVED_CONDITIONS:
            from hepgan.geometry import get_geometry

            g = get_geometry(geometry)
            if g.anchor_layer is None:
                raise ConfigError(f"data.conditions: {name!r} needs windows around an anchor cell; "
                                  f"geometry {geometry!r} has none")
            physical[name] = g.derived_condition(name, {k: v[:, 0] for k, v in labels.conditions.items()}, len(labels))
        elif name != "energy":
            if name not in labels.conditions:
                raise ConfigError(f"data.conditions asks for {name!r} but the data has {sorted(labels.conditions)}")
            physical[name] = labels.conditions[name][:, 0].astype(np.float64)
    train_idx, val_idx = split_indices(len(labels), cfg.validation_fraction, config.seed)
    encoder = ConditionEncoder(names=list(cfg.conditions)).fit({k: v[train_idx] for k, v in physical.items()})
    transform = Pipeline([transform_from_dict(dict(stage)) for stage in config.preprocessing])
    cond = encoder.encode(physical)
    energy = physical["energy"][:, None]
    # the in-memory route holds a float64 copy and the float32 model-space samples of every shower
    streamed = path is not None and len(labels) * n_cells * 12 > cfg.memory_mb * 2**20
    if streamed:
        budget = cfg.memory_mb * 2**20 // 2  # half for the blocks being trained on, half for everything else

        def rows_of(idx, fitted):
            return StreamedRows(path, rows[idx], energy[idx, 0], transform if fitted else None, n_cells, budget)

        fit = rows_of(train_idx, False)
        at = fit.spread(max(1, budget // (8 * n_cells)))  # the transform is fitted on float64 rows
        transform.fit(fit[at].numpy().astype(np.float64), energy[train_idx][at])
        fit.close()
        x_train = rows_of(train_idx, True)
        val_idx = val_idx[: min(len(val_idx), config.eval.n_generated)]
        x_val = rows_of(val_idx, True)[:] if len(val_idx) else None
    else:
        if data is None:
            from hepgan.data.hdf5 import read_showers

            data = read_showers(path, geometry=cfg.geometry)
        showers = data.showers[rows].astype(np.float64)
        transform.fit(showers[train_idx], energy[train_idx])
        x = torch.from_numpy(transform.forward(showers, energy).astype(np.float32))
        del showers
        x_train, x_val = x[train_idx], x[val_idx]

    def split(idx, x) -> Split | None:
        if len(idx) == 0:
            return None
        return Split(
            x,
            torch.from_numpy(cond[idx]),
            energies_mev=physical["energy"][idx],
            physical={k: v[idx] for k, v in physical.items()},
        )

    return PreparedData(split(train_idx, x_train), split(val_idx, x_val), (n_cells,), encoder, transform, geometry,
                        "showers")


IMAGE_METRICS = {"inception", "image_prd", "image_prdc"}


def _warn_if_the_image_metrics_do_not_know_the_data(config: TrainConfig) -> None:
    """Validation scores images with the packaged MNIST LeNet; on other images its scores are only
    comparable with each other (the report trains a LeNet on the data instead)."""
    import warnings

    from hepgan.data.idx import read_mnist
    from hepgan.errors import DataError, HepganWarning
    from hepgan.metrics.image.metric_classifier import is_mnist

    used = sorted(IMAGE_METRICS & set(config.eval.metrics))
    if not used:
        return
    try:
        mnist = is_mnist(read_mnist(config.data.mnist_dir, "test").images)
    except DataError:
        mnist = False
    if not mnist:
        warnings.warn(f"eval.metrics {', '.join(used)} score these images with the packaged MNIST LeNet, which "
                      "does not know them: compare the values between checkpoints only (hepgan report scores with "
                      "a LeNet trained on this data)", HepganWarning, stacklevel=2)


def _prepare_images(config: TrainConfig) -> PreparedData:
    from hepgan.data.idx import read_mnist

    cfg = config.data
    images = read_mnist(cfg.mnist_dir, cfg.split)
    _warn_if_the_image_metrics_do_not_know_the_data(config)
    n = len(images) if cfg.max_events is None else min(len(images), cfg.max_events)
    x = images.images[:n].astype(np.float32)[:, None] / 127.5 - 1.0
    labels = images.labels[:n].astype(np.int64)
    encoder = ConditionEncoder(n_classes=10 if cfg.conditional else 0)
    cond = encoder.encode(labels=labels) if cfg.conditional else np.zeros((n, 0), np.float32)
    train_idx, val_idx = split_indices(n, cfg.validation_fraction, config.seed)

    def split(idx) -> Split | None:
        if len(idx) == 0:
            return None
        return Split(torch.from_numpy(x[idx]), torch.from_numpy(cond[idx]), labels=torch.from_numpy(labels[idx]))

    return PreparedData(split(train_idx), split(val_idx), tuple(x.shape[1:]), encoder, None, None, "images")
