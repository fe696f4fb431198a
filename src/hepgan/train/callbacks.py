"""Hooks through which code outside the trainer follows a run (studies, searches, progress)."""

from __future__ import annotations


class Callback:
    """Hooks the trainer calls; override what you need."""

    def on_train_start(self, trainer) -> None: ...

    def on_step_end(self, trainer, step: int, logs: dict[str, float]) -> None: ...

    def on_validation(self, trainer, step: int, metrics: dict[str, float]) -> None: ...

    def on_estimate(self, trainer, estimate) -> None:
        """Once, after the first timed steps: the run's speed and expected finish (an Estimate)."""

    def on_train_end(self, trainer) -> None: ...
