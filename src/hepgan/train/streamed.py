"""Training rows read from an HDF5 file block by block, for data sets larger than memory.

A CaloChallenge dataset 3 file holds 100,000 x 40,500 float32 values (16 GB). The trainer sees
:class:`StreamedRows` where it would see a tensor: ``rows[idx]`` returns model-space samples, read
from the file in blocks of contiguous rows, transformed, and kept in a small cache. The data order
(:meth:`StreamedRows.order`) shuffles the order of the blocks and, within each group of
``group_blocks`` blocks, the rows, so consecutive batches touch one group and every block is
read about once per epoch. Like the in-memory order it is a function of (seed, epoch) alone, so a
resumed run continues with the same batches.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from hepgan.data.hdf5 import ShowerFile
from hepgan.data.transforms import Transform

BLOCK_BYTES = 64 << 20  # one block of model-space rows
GROUP_BLOCKS = 8  # blocks whose rows are shuffled together


class StreamedRows:
    """Model-space rows ``positions`` of an HDF5 shower file, read on demand.

    ``file_rows`` are the file's row indices in training order (sorted); ``energies_mev`` their
    incident energies, which the transform needs. At most two groups of blocks are held at once,
    which ``cache_bytes`` bounds.
    """

    def __init__(self, path: str | Path, file_rows: np.ndarray, energies_mev: np.ndarray, transform: Transform | None,
                 n_cells: int, cache_bytes: int = 2 * GROUP_BLOCKS * BLOCK_BYTES, group_blocks: int = GROUP_BLOCKS):
        self.path = Path(path)
        self.file_rows = np.asarray(file_rows, np.int64)
        if len(self.file_rows) == 0:
            raise ValueError("StreamedRows needs at least one row")
        self.energies_mev = np.asarray(energies_mev, np.float64)
        self.transform = transform
        self.n_cells = int(n_cells)
        self.group_blocks = int(group_blocks)
        self.block_rows = max(1, min(BLOCK_BYTES, cache_bytes // (2 * self.group_blocks)) // (4 * self.n_cells))
        self.n_blocks = -(-len(self.file_rows) // self.block_rows)
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._file: ShowerFile | None = None
        self.blocks_read = 0

    def __len__(self) -> int:
        return len(self.file_rows)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.n_cells)

    @property
    def cache_limit(self) -> int:
        return 2 * self.group_blocks

    def order(self, seed: int, epoch: int) -> torch.Tensor:
        """Positions in the order one epoch visits them: blocks shuffled, rows shuffled within groups."""
        rng = np.random.default_rng([seed, 11, epoch])
        blocks = rng.permutation(self.n_blocks)
        parts = []
        for start in range(0, self.n_blocks, self.group_blocks):
            group = blocks[start : start + self.group_blocks]
            positions = np.concatenate([np.arange(b * self.block_rows, min((b + 1) * self.block_rows, len(self)))
                                        for b in group])
            parts.append(positions[rng.permutation(len(positions))])
        return torch.from_numpy(np.concatenate(parts))

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, slice):
            index = np.arange(len(self))[index]
        positions = np.asarray(index.numpy() if isinstance(index, torch.Tensor) else index, np.int64).reshape(-1)
        if positions.size and (positions.min() < 0 or positions.max() >= len(self)):
            raise IndexError(f"row positions must lie in 0..{len(self) - 1}")
        out = torch.empty(len(positions), self.n_cells)
        blocks = positions // self.block_rows
        for b in np.unique(blocks):
            at = np.flatnonzero(blocks == b)
            out[at] = self._block(int(b))[torch.from_numpy(positions[at] - b * self.block_rows)]
        return out

    def spread(self, n: int) -> np.ndarray:
        """``n`` positions spread evenly over the rows, in whole blocks (for fitting on a subsample
        read in few blocks): the first rows of evenly spaced blocks."""
        n = min(n, len(self))
        per_block = min(self.block_rows, n)
        n_blocks = -(-n // per_block)
        chosen = np.linspace(0, self.n_blocks - 1, n_blocks).round().astype(np.int64)
        positions = np.concatenate([np.arange(b * self.block_rows, min(b * self.block_rows + per_block, len(self)))
                                    for b in np.unique(chosen)])
        return positions[:n]

    def _block(self, b: int) -> torch.Tensor:
        if b in self._cache:
            self._cache.move_to_end(b)
            return self._cache[b]
        lo, hi = b * self.block_rows, min((b + 1) * self.block_rows, len(self))
        rows = self.file_rows[lo:hi]
        if self._file is None:
            self._file = ShowerFile(self.path)
        data = self._file.read(int(rows[0]), int(rows[-1]) + 1)
        take = rows - rows[0]
        showers = data.showers[take].astype(np.float64)
        energies = self.energies_mev[lo:hi, None]
        x = self.transform.forward(showers, energies) if self.transform is not None else showers
        block = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.blocks_read += 1
        self._cache[b] = block
        while len(self._cache) > self.cache_limit:
            self._cache.popitem(last=False)
        return block

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._cache.clear()

    def __getstate__(self) -> dict:  # copies (deepcopy, pickling to workers) reopen the file themselves
        state = dict(self.__dict__)
        state["_file"], state["_cache"] = None, OrderedDict()
        return state


__all__ = ["StreamedRows"]
