"""How many CPU threads training uses: chosen by timing the work itself.

On a machine of its own, torch's default (one thread per core) is fastest. On a shared machine
it can be 3x slower than one thread: with a core busy, every parallel section waits for the
thread that got the busy core (the MNIST recipe with one of two cores taken: 2.7 steps/s with 2
threads against 8.7 with 1). ``threads: auto`` times a few repeats of the real workload with
each candidate count and keeps the fastest, preferring fewer threads unless more are clearly
faster. The count covers NumPy's BLAS as well as torch: the standardisation's fit before
training is NumPy, and two processes each running it with a BLAS thread per core took minutes
instead of seconds.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

CLEARLY_FASTER = 1.1  # more threads are kept only when at least this much faster


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    seconds: dict[int, float]  # median seconds of one probe repeat per candidate count

    def describe(self) -> str:
        timings = ", ".join(f"{n}: {s * 1e3:.0f} ms" for n, s in sorted(self.seconds.items()))
        return f"{self.threads} thread{'s' if self.threads > 1 else ''} (timed per step with {timings})"


def use_threads(n: int) -> None:
    """Run torch and the BLAS / OpenMP libraries NumPy and SciPy use on ``n`` threads."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n)


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def candidates(cores: int) -> list[int]:
    """1, the powers of two below ``cores``, and ``cores``."""
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return counts + [cores]


def choose_threads(work: Callable[[], None], counts: list[int] | None = None, repeats: int = 5) -> ThreadChoice:
    """Time ``work`` (one representative step) with each thread count and set the fastest.

    Each count gets one untimed warm-up call, then the median of ``repeats`` timed calls."""
    counts = counts or candidates(available_cores())
    seconds: dict[int, float] = {}
    for n in counts:
        use_threads(n)
        work()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            work()
            times.append(time.perf_counter() - start)
        seconds[n] = statistics.median(times)
    best = counts[0]
    for n in counts[1:]:
        if seconds[n] * CLEARLY_FASTER < seconds[best]:
            best = n
    use_threads(best)
    return ThreadChoice(best, seconds)


__all__ = ["ThreadChoice", "available_cores", "candidates", "choose_threads", "use_threads"]
