"""How physical conditions (incident energy, impact position, class labels) become the
condition vector a conditional network sees, and back.

Energies enter as standardised ln(E), so the model sees a continuous variable it can
interpolate in (the ATLAS FastCaloGAN study's choice over one-hot energy classes); positions are standardised;
multi-column codes (the window alignment, the impact offset in the hit cell) pass through as they are; class labels become one-hot
vectors. The fitted scales travel with the model as a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hepgan.errors import ConfigError, DataError

LOG_SCALED = {"energy"}
# (N, k) conditions passed through unscaled: the one-/multi-hot alignment code, offsets in [-0.5, 0.5)
PASSED_THROUGH = {"alignment", "impact_offset"}


@dataclass
class ConditionEncoder:
    """Maps named physical conditions (N, 1) each, or labels (N,), to a float32 (N, dim) vector."""

    names: list[str] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    n_classes: int = 0
    widths: list[int] = field(default_factory=list)

    @property
    def dim(self) -> int:
        widths = self.widths or [1] * len(self.names)
        return int(sum(widths)) + self.n_classes

    def fit(self, conditions: dict[str, np.ndarray]) -> "ConditionEncoder":
        self.mean, self.std, self.widths = [], [], []
        for name in self.names:
            values = self._raw(conditions, name)
            categorical = name in PASSED_THROUGH
            self.widths.append(values.shape[1] if categorical else 1)
            self.mean.append(0.0 if categorical else float(values.mean()))
            self.std.append(1.0 if categorical else float(max(values.std(), 1e-6)))
        return self

    def encode(self, conditions: dict[str, np.ndarray] | None = None, labels: np.ndarray | None = None) -> np.ndarray:
        columns = []
        if self.names:
            if len(self.mean) != len(self.names):
                raise ConfigError("ConditionEncoder: call fit before encode")
            for name, m, s in zip(self.names, self.mean, self.std):
                columns.append((self._raw(conditions or {}, name) - m) / s)
        if self.n_classes:
            if labels is None:
                raise DataError("<conditions>", "this model is class-conditional: labels are required")
            labels = np.asarray(labels)
            if labels.ndim != 1 or (labels < 0).any() or (labels >= self.n_classes).any():
                raise DataError("<conditions>", f"labels must be integers in 0..{self.n_classes - 1}")
            columns.append(np.eye(self.n_classes)[labels.astype(np.int64)])
        if not columns:
            return np.zeros((0, 0), np.float32)
        columns = [c[:, None] if c.ndim == 1 else c for c in columns]
        return np.concatenate(columns, axis=1).astype(np.float32)

    def decode(self, encoded: np.ndarray) -> dict[str, np.ndarray]:
        """Physical conditions (and 'label') from encoded vectors."""
        out, col = {}, 0
        for name, m, s, w in zip(self.names, self.mean, self.std, self.widths or [1] * len(self.names)):
            block = encoded[:, col : col + w].astype(np.float64)
            col += w
            if name in PASSED_THROUGH:
                out[name] = block
                continue
            value = block[:, 0] * s + m
            out[name] = np.exp(value) if name in LOG_SCALED else value
        if self.n_classes:
            out["label"] = encoded[:, col:].argmax(axis=1)
        return out

    @staticmethod
    def _raw(conditions: dict[str, np.ndarray], name: str) -> np.ndarray:
        if name not in conditions:
            raise DataError("<conditions>", f"condition {name!r} is missing; have {sorted(conditions)}")
        if name in PASSED_THROUGH:
            return np.asarray(conditions[name], np.float64).reshape(len(conditions[name]), -1)
        values = np.asarray(conditions[name], np.float64).reshape(-1)
        if name in LOG_SCALED:
            if (values <= 0).any():
                raise DataError("<conditions>", f"condition {name!r} must be positive to be log-scaled")
            values = np.log(values)
        return values

    def to_dict(self) -> dict:
        return {"names": list(self.names), "mean": list(self.mean), "std": list(self.std), "n_classes": self.n_classes,
                "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict) -> "ConditionEncoder":
        return cls(list(d["names"]), list(d["mean"]), list(d["std"]), int(d["n_classes"]), list(d.get("widths", [])))
