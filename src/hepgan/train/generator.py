"""A trained generator, restored from a checkpoint with everything it needs to produce physics:
its network (the EMA weights when the run kept them), the condition encoder and the fitted
preprocessing, so that samples come out as MeV showers (or 0-255 images)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import ValidationError

from hepgan.data.conditions import ConditionEncoder
from hepgan.data.showers import ShowerData
from hepgan.data.transforms import Transform, transform_from_dict
from hepgan.errors import ConfigError, DataError, HepganWarning
from hepgan.geometry.base import DERIVED_CONDITIONS
from hepgan.models import build_model
from hepgan.train.checkpoint import CheckpointDir, checkpoint_damage, load_checkpoint
from hepgan.train.config import TrainConfig, validation_message


@dataclass
class TrainedGenerator:
    network: torch.nn.Module
    latent_dim: int
    encoder: ConditionEncoder
    transform: Transform | None
    sample_shape: tuple[int, ...]
    geometry: str | None
    kind: str
    config: TrainConfig
    step: int

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "TrainedGenerator":
        return cls.from_state(load_checkpoint(path), path)

    @classmethod
    def from_state(cls, state: dict, path: str | Path) -> "TrainedGenerator":
        """From a loaded checkpoint (``path`` names it in errors)."""
        try:
            config = TrainConfig(**json.loads(state["config"]))
        except ValidationError as exc:
            raise ConfigError(validation_message(exc, f"{path}: the run's config (written by another hepgan version?)")) from None
        encoder = ConditionEncoder.from_dict(state["encoder"])
        sample_shape = tuple(state["sample_shape"])
        model = build_model(config.model, sample_shape, encoder.dim, state["geometry"])
        model.load_state_dict(state["model"])
        network = model.generator
        if state.get("ema") is not None:
            network.load_state_dict(state["ema"])
        network.eval().requires_grad_(False)
        transform = transform_from_dict(json.loads(state["preprocessing"])) if state["preprocessing"] else None
        return cls(network, model.latent_dim, encoder, transform, sample_shape, state["geometry"], state["kind"],
                   config, int(state["step"]))

    @classmethod
    def from_run(cls, run_dir: str | Path, which: str = "best") -> "TrainedGenerator":
        """The run's best checkpoint (falling back to the last when none was selected or it is
        damaged), or ``which='last'``. A damaged checkpoint passed over is named in a warning."""
        checkpoints = CheckpointDir(Path(run_dir) / "checkpoints")
        order = [checkpoints.best, checkpoints.last] if which == "best" else [checkpoints.last]
        present = [path for path in order if path.exists()]
        if not present:
            names = " or ".join(f"checkpoints/{path.name}" for path in order)
            raise ConfigError(f"{run_dir}: not a trained run (expected {names})")
        path, fallback = present[0], present[1:]
        try:
            state = load_checkpoint(path)
        except DataError as exc:
            if not fallback:
                raise
            warnings.warn(f"{exc}; using {fallback[0]} instead", HepganWarning, stacklevel=2)
            return cls.from_checkpoint(fallback[0])
        for other in fallback:
            problem = None if other.samefile(path) else checkpoint_damage(other)
            if problem:
                warnings.warn(f"{other}: {problem}; using {path} (resuming the run needs {other.name})",
                              HepganWarning, stacklevel=2)
        return cls.from_state(state, path)

    def complete_conditions(self, conditions: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
        """Add the conditions the geometry derives from the impact point (window alignment, offset in
        the hit cell) when the model needs them and they are not given, as the training data got them."""
        needed = [k for k in DERIVED_CONDITIONS if k in self.encoder.names and k not in (conditions or {})]
        if conditions is None or not needed:
            return conditions
        from hepgan.geometry import get_geometry

        n = len(np.asarray(conditions["energy"]).reshape(-1))
        flat = {k: np.asarray(v, np.float64).reshape(n, -1)[:, 0] for k, v in conditions.items()}
        missing = [k for k in ("impact_eta", "impact_phi") if k not in flat]
        if missing:
            raise ConfigError(f"this model is conditioned on {', '.join(needed)}: give them, or the impact point "
                              f"({', '.join(missing)} missing)")
        g = get_geometry(self.geometry)
        return {**conditions, **{k: g.derived_condition(k, flat, n) for k in needed}}

    @torch.no_grad()
    def generate(self, conditions: dict[str, np.ndarray] | None = None, labels: np.ndarray | None = None,
                 n: int | None = None, seed: int = 0, batch_size: int = 10_000) -> np.ndarray:
        """Physical samples: (N, n_cells) MeV showers or (N, 1, 28, 28) images in 0..255."""
        if self.encoder.dim:
            cond = self.encoder.encode(self.complete_conditions(conditions), labels)
            n = len(cond)
        elif n is None:
            raise ConfigError("an unconditional generator needs n")
        gen = torch.Generator().manual_seed(seed)
        out = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = torch.randn(m, self.latent_dim, generator=gen)
            c = torch.from_numpy(cond[start : start + m]) if self.encoder.dim else None
            out.append(self.network(z, c).numpy())
        x = np.concatenate(out) if out else np.zeros((0, *self.sample_shape), np.float32)
        if self.kind == "images":
            return np.clip((x + 1.0) * 127.5, 0.0, 255.0)
        flat = x.reshape(len(x), -1).astype(np.float64)
        energies = (conditions or {}).get("energy")
        if self.transform is not None:
            flat = self.transform.inverse(flat, None if energies is None else np.asarray(energies, float)[:, None])
        return flat

    def generate_showers(self, conditions: dict[str, np.ndarray], seed: int = 0) -> ShowerData:
        """Showers in the CaloChallenge layout for the given physical conditions (energy in MeV)."""
        showers = self.generate(conditions, seed=seed).astype(np.float32)
        energies = np.asarray(conditions["energy"], np.float64)[:, None]
        extra = {k: np.asarray(v, np.float64).reshape(len(energies), -1) for k, v in conditions.items()
                 if k != "energy" and k not in DERIVED_CONDITIONS}
        return ShowerData(showers, energies, extra, self.geometry, {"generator_step": self.step})
