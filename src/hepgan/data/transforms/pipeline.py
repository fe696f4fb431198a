"""Stages applied in order and undone in reverse, saved as one transform."""

from __future__ import annotations

from collections.abc import Sequence

from hepgan.data.transforms.base import Transform, register_transform, transform_from_dict
from hepgan.errors import ConfigError

@register_transform
class Pipeline(Transform):
    """Stages applied in order (and undone in reverse), fitted and saved as one transform."""

    def __init__(self, stages: Sequence[Transform] = ()):
        if isinstance(stages, Transform | str | dict):
            raise ConfigError("Pipeline takes a list of transforms")
        stages = list(stages)
        for i, stage in enumerate(stages):
            if not isinstance(stage, Transform):
                raise ConfigError(f"Pipeline stage {i} is not a Transform: {stage!r}")
        self.stages = stages

    @property
    def needs_energies(self) -> bool:  # type: ignore[override]
        return any(stage.needs_energies for stage in self.stages)

    @property
    def fitted(self) -> bool:
        return all(stage.fitted for stage in self.stages)

    @property
    def input_dim(self) -> int | None:
        return self.stages[0].input_dim if self.stages else None

    @property
    def output_dim(self) -> int | None:
        """Width of the last stage that fixes one (later stages keep the width)."""
        for stage in reversed(self.stages):
            if stage.output_dim is not None:
                return stage.output_dim
        return None

    def fit(self, showers, energies=None):
        """Fit each stage on what the stages before it produce."""
        x, e = self._check(showers, energies, "fit input", self.input_dim)
        for i, stage in enumerate(self.stages):
            stage.fit(x, e)
            if i < len(self.stages) - 1:
                x = stage.forward(x, e)
        return self

    def _forward(self, x, energies):
        for stage in self.stages:
            x = stage.forward(x, energies)
        return x

    def _inverse(self, y, energies):
        for stage in reversed(self.stages):
            y = stage.inverse(y, energies)
        return y

    def _require_fitted(self) -> None:
        for stage in self.stages:
            stage._require_fitted()

    def to_dict(self):
        return {"type": self.type_name, "stages": [stage.to_dict() for stage in self.stages]}

    @classmethod
    def from_dict(cls, d):
        stages = d.get("stages", [])
        extra = sorted(set(d) - {"type", "stages"})
        if extra:
            raise ConfigError(f"transform Pipeline: unexpected keys {extra}")
        if not isinstance(stages, list):
            raise ConfigError(f"transform Pipeline: 'stages' must be a list, got {type(stages).__name__}")
        return cls([transform_from_dict(stage) for stage in stages])

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(repr(s) for s in self.stages)}])"


__all__ = ["Pipeline"]
