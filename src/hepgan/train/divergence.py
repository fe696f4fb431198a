"""Telling a diverged step from a noisy one: a critic loss that jumps to far above its recent
typical size.

Why: a GAN can blow up without a single NaN. The full atlas266 recipe's seed 3 went from a critic
loss of about 3 to 7,700 within 50 steps (docs/flagship.md); the losses stayed finite, so the
non-finite check never fired and 550 steps of a broken generator were trained before the weights
overflowed. Such a jump is restored from the last good snapshot, as a NaN is: run again with this
check, the same seed was restored at step 1,400 (loss_d -390, 129x its median) and trained on.
"""

from __future__ import annotations

from collections import deque
from statistics import median

MIN_TYPICAL = 1.0  # losses of a critic that is winning can sit near 0: a jump from there to ~1 is no blow-up


class LossSpikeDetector:
    """Flags a step whose |loss_d| exceeds ``factor`` x the median |loss_d| of the last ``window``
    accepted steps (a median of at least ``MIN_TYPICAL``); quiet until it has seen ``window``
    steps (losses settle from their starting size early on). A flagged step is not added to the
    history."""

    def __init__(self, factor: float, window: int, key: str = "loss_d"):
        self.factor, self.window, self.key = factor, window, key
        self.history: deque[float] = deque(maxlen=window)

    def check(self, logs: dict[str, float]) -> str | None:
        """None for an ordinary step, else why it counts as diverged."""
        if self.key not in logs:
            return None
        size = abs(logs[self.key])
        if len(self.history) == self.window:
            typical = max(median(self.history), MIN_TYPICAL)
            if size > self.factor * typical:
                return (f"{self.key}={logs[self.key]:.4g} is {size / typical:.0f}x its median size over the last "
                        f"{self.window} steps ({typical:.3g})")
        self.history.append(size)
        return None


__all__ = ["LossSpikeDetector"]
