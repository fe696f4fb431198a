import numpy as np
import pytest
import torch

from hepgan.geometry import get_geometry
from hepgan.models.layered.cells import LayerCells


@pytest.mark.parametrize("name", ["calochallenge-1-photons", "calochallenge-2", "atlas266"])
def test_split_puts_each_layer_in_its_row_and_join_inverts_it(name):
    geometry = get_geometry(name)
    cells = LayerCells(geometry)
    x = torch.rand(3, geometry.n_cells)
    rows = cells.split(x)
    assert rows.shape == (3, len(geometry.layers), max(geometry.layer_sizes))
    for i, sl in enumerate(geometry.layer_slices):
        n = sl.stop - sl.start
        assert torch.equal(rows[:, i, :n], x[:, sl])
        assert torch.all(rows[:, i, n:] == 0)  # padding
    assert torch.equal(cells.join(rows), x)
    assert int(cells.mask.sum()) == geometry.n_cells


def test_layers_of_one_size_have_no_padding():
    cells = LayerCells(get_geometry("calochallenge-3"))
    assert (cells.n_layers, cells.width) == (45, 900)
    assert bool(cells.mask.all())
    assert np.array_equal(cells.gather.numpy(), np.arange(40_500))
