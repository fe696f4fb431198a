"""Turn a data config into model-space tensors: showers or images, conditions, validation split.

Everything the trained model needs to map its outputs back to physics travels in
:class:`PreparedData`: the fitted preprocessing transform, the condition encoder and the
geometry name.
"""

from __future__ import annotations

import hashlib
import json
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

CONDITION_SOURCES = {"energy": None, "impact_eta": "impact_eta", "impact_phi": "impact_phi"}


@dataclass
class Split:
    """Model-space samples with their encoded conditions (and raw labels / energies for metrics)."""

    x: torch.Tensor
    cond: torch.Tensor
    labels: torch.Tensor | None = None
    energies_mev: np.ndarray | None = None
    physical: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])


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
    from hepgan.api import simulate
    from hepgan.data.hdf5 import read_showers

    cache = simulation_cache_path(cfg)
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        simulate(cfg.simulate, out=cache)
    return read_showers(cache)


def _prepare_showers(config: TrainConfig) -> PreparedData:
    cfg = config.data
    data = load_shower_source(cfg)
    if data.geometry is None and cfg.geometry is None:
        raise ConfigError(f"{cfg.path}: the file names no geometry; set data.geometry")
    geometry = cfg.geometry or data.geometry
    used, _ = partition_showers(data, cfg)
    data = data.subset(used)
    if len(data) < 2:
        raise ConfigError(f"data: only {len(data)} showers left after exclusions; need at least 2")
    physical = {"energy": data.incident_energies[:, 0].astype(np.float64)}
    for name in cfg.conditions:
        if name in DERIVED_CONDITIONS:
            from hepgan.geometry import get_geometry

            g = get_geometry(geometry)
            if g.anchor_layer is None:
                raise ConfigError(f"data.conditions: {name!r} needs windows around an anchor cell; "
                                  f"geometry {geometry!r} has none")
            physical[name] = g.derived_condition(name, {k: v[:, 0] for k, v in data.conditions.items()}, len(data))
        elif name != "energy":
            if name not in data.conditions:
                raise ConfigError(f"data.conditions asks for {name!r} but the data has {sorted(data.conditions)}")
            physical[name] = data.conditions[name][:, 0].astype(np.float64)
    train_idx, val_idx = split_indices(len(data), cfg.validation_fraction, config.seed)
    encoder = ConditionEncoder(names=list(cfg.conditions)).fit({k: v[train_idx] for k, v in physical.items()})
    transform = Pipeline([transform_from_dict(dict(stage)) for stage in config.preprocessing])
    showers = data.showers.astype(np.float64)
    transform.fit(showers[train_idx], physical["energy"][train_idx, None])
    x = transform.forward(showers, physical["energy"][:, None]).astype(np.float32)
    cond = encoder.encode(physical)

    def split(idx) -> Split | None:
        if len(idx) == 0:
            return None
        return Split(
            torch.from_numpy(x[idx]),
            torch.from_numpy(cond[idx]),
            energies_mev=physical["energy"][idx],
            physical={k: v[idx] for k, v in physical.items()},
        )

    return PreparedData(split(train_idx), split(val_idx), (x.shape[1],), encoder, transform, geometry, "showers")


def _prepare_images(config: TrainConfig) -> PreparedData:
    from hepgan.data.idx import read_mnist

    cfg = config.data
    images = read_mnist(cfg.mnist_dir, cfg.split)
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
