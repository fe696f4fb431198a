"""Flat cell vectors <-> one row per readout layer, padded to the largest layer.

Networks shared by all layers need every layer in the same shape; layers of a geometry differ
(CaloChallenge dataset 1: 8 to 190 voxels), so each layer's cells are placed at the front of a
row of ``width`` slots and the rest is padding, marked by ``mask``. Dataset 2 and 3 layers are all
the same size and need no padding.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hepgan.geometry import Geometry


class LayerCells(nn.Module):
    def __init__(self, geometry: Geometry):
        super().__init__()
        sizes = geometry.layer_sizes
        self.n_layers, self.width, self.n_cells = len(sizes), max(sizes), geometry.n_cells
        gather = np.zeros((self.n_layers, self.width), np.int64)
        mask = np.zeros((self.n_layers, self.width), bool)
        for i, sl in enumerate(geometry.layer_slices):
            n = sl.stop - sl.start
            gather[i, :n] = np.arange(sl.start, sl.stop)
            mask[i, :n] = True
        self.register_buffer("gather", torch.from_numpy(gather.reshape(-1)), persistent=False)
        self.register_buffer("mask", torch.from_numpy(mask), persistent=False)
        self.register_buffer("scatter", torch.from_numpy(np.flatnonzero(mask.reshape(-1))), persistent=False)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_cells) -> (N, layers, width), zero on the padding."""
        rows = x[:, self.gather].reshape(x.shape[0], self.n_layers, self.width)
        return rows * self.mask

    def join(self, rows: torch.Tensor) -> torch.Tensor:
        """(N, layers, width) -> (N, n_cells): the padding is dropped."""
        return rows.reshape(rows.shape[0], self.n_layers * self.width)[:, self.scatter]


__all__ = ["LayerCells"]
