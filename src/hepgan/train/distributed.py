"""Data-parallel training over ``torch.distributed``: ``torchrun --nproc_per_node K -m hepgan train cfg.yaml``.

Every rank runs the same trainer on the same config. Each global batch of ``schedule.batch_size``
rows is cut into ``world_size`` disjoint contiguous shards, one per rank; after every backward
the gradients are averaged across ranks (one flattened ``all_reduce`` per optimiser step), so
every rank takes the same optimiser step and the weights stay identical. Only rank 0 writes the
run directory (config, metrics log, checkpoints, samples, TensorBoard) and validates.

Why explicit ``all_reduce`` and not ``DistributedDataParallel``: DDP does give the right
gradients for the gradient penalty's double backward in its default mode (checked against the
full batch: 6e-8), but wrong ones with ``static_graph=True`` (0.3); more to the point, the GAN
models call their networks directly in three roles per update (real, fake, interpolates) and
freeze the critics for the generator update, and DDP wrappers would rename every parameter
(``module.``), so checkpoints would differ from single-process ones. Averaging after backward
keeps the models and the checkpoint format untouched; for these small networks DDP's overlap of
communication with backward would buy little.

Per-sample randomness (latent noise, gradient-penalty interpolation weights, generator
conditions, instance noise) is drawn at the *global* batch size on every rank from the common
seeded stream, and each rank keeps its own rows (:meth:`DataParallel.sharded_randomness`). Every
rank therefore consumes the random stream exactly as a single process would, and training with
K ranks equals single-process training with the same global batch up to floating-point
summation order. What still differs per rank, by design: statistics over the batch (BNORM
batch norm, MINIBATCHSTD, CGAN-MBL's label histogram) see only the rank's shard, dropout masks
are rank-local, and ``schedule.gen_conditions: chunk`` draws from the rank's part of the chunk.

The trainer places everything on the CPU today, so the backend is gloo; multi-GPU throughput
needs device placement in the trainer first (then this module's collectives work unchanged
with NCCL).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode

from hepgan.errors import ConfigError

_SIZE_DRAWS = (torch.randn, torch.rand)
_LIKE_DRAWS = (torch.randn_like, torch.rand_like)


def world_size_from_env() -> int:
    """The world size ``torchrun`` (or a launcher like it) announced, 1 when none."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number") from None


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a distributed launch (for printing once)."""
    return os.environ.get("RANK", "0") == "0"


class DataParallel:
    """This process's place in a data-parallel run, and the collectives the trainer needs."""

    def __init__(self, rank: int, world_size: int, owns_group: bool = False):
        self.rank = rank
        self.world_size = world_size
        self.owns_group = owns_group

    @classmethod
    def from_env(cls) -> DataParallel | None:
        """Join the process group a launcher set up (``torchrun`` sets RANK, WORLD_SIZE, MASTER_ADDR/PORT);
        None for a plain single-process run."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            world = dist.get_world_size()
            return cls(dist.get_rank(), world) if world > 1 else None
        if world_size_from_env() <= 1:
            return None
        if not dist.is_available():
            raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise ConfigError(f"WORLD_SIZE > 1 but {', '.join(missing)} not set: launch with torchrun")
        dist.init_process_group(backend="gloo")
        return cls(dist.get_rank(), dist.get_world_size(), owns_group=True)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_batch(self, global_batch: int) -> int:
        if global_batch % self.world_size:
            raise ConfigError(f"schedule.batch_size {global_batch} must be a multiple of the world size "
                              f"{self.world_size} (each rank takes an equal shard of every batch)")
        return global_batch // self.world_size

    def shard(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a global batch's rows."""
        n = len(rows) // self.world_size
        return rows[self.rank * n : (self.rank + 1) * n]

    @contextmanager
    def sharded_randomness(self, local_batch: int):
        """Inside, a random draw of ``local_batch`` rows is made at the global size and sliced."""
        with _GlobalDraws(local_batch, self.rank, self.world_size):
            yield

    def average_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Mean of the gradients over ranks, in place, for every parameter that has one."""
        import torch.distributed as dist

        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def average_logs(self, logs: dict[str, float]) -> dict[str, float]:
        """Loss logs averaged over ranks, so every rank sees the same numbers (and the same NaN)."""
        import torch.distributed as dist

        keys = list(logs)  # same order on every rank: the same code made them
        values = torch.tensor([logs[k] for k in keys], dtype=torch.float64)
        dist.all_reduce(values)
        values /= self.world_size
        return {k: float(v) for k, v in zip(keys, values)}

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any (decisions that change control flow, e.g. a time limit)."""
        import torch.distributed as dist

        value = torch.tensor([1 if flag else 0])
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def close(self) -> None:
        import torch.distributed as dist

        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


class _GlobalDraws(TorchFunctionMode):
    def __init__(self, n: int, rank: int, world: int):
        super().__init__()
        self.n, self.rank, self.world = n, rank, world

    def _mine(self, out: torch.Tensor) -> torch.Tensor:
        return out[self.rank * self.n : (self.rank + 1) * self.n]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        n, big = self.n, self.n * self.world
        if func in _SIZE_DRAWS and "out" not in kwargs:
            rest = {k: v for k, v in kwargs.items() if k != "size"}
            size = kwargs.get("size")
            if size is None:
                size = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else args
            size = tuple(size)
            if size and size[0] == n:
                return self._mine(func((big, *size[1:]), **rest))
        elif func in _LIKE_DRAWS and args and args[0].dim() and args[0].shape[0] == n:
            x = args[0]
            kwargs.pop("memory_format", None)
            kwargs.setdefault("dtype", x.dtype)
            kwargs.setdefault("device", x.device)
            draw = torch.randn if func is torch.randn_like else torch.rand
            return self._mine(draw((big, *x.shape[1:]), **kwargs))
        elif func is torch.randint and "out" not in kwargs:
            bounds, size, rest = args, kwargs.get("size"), {k: v for k, v in kwargs.items() if k != "size"}
            if size is None and args and isinstance(args[-1], (tuple, list, torch.Size)):
                bounds, size = args[:-1], args[-1]
            size = tuple(size) if size is not None else ()
            if size and size[0] == n:
                return self._mine(func(*bounds, (big, *size[1:]), **rest))
        elif func is torch.multinomial and args and args[0].dim() == 1:
            samples = args[1] if len(args) > 1 else kwargs.get("num_samples")
            replacement = args[2] if len(args) > 2 else kwargs.get("replacement", False)
            if samples == n and replacement:
                rest = {k: v for k, v in kwargs.items() if k not in ("num_samples", "replacement")}
                return self._mine(func(args[0], big, True, **rest))
        return func(*args, **kwargs)


__all__ = ["DataParallel", "is_main_process", "world_size_from_env"]
