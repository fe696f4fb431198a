"""One seed for every random stream; captured states that survive a checkpoint and resume the streams
exactly; epoch orders that need no saved state."""

import random

import numpy as np
import torch

from hepgan.train.checkpoint import load_checkpoint, save_checkpoint
from hepgan.train.rng import capture_rng, epoch_permutation, restore_rng, seed_everything


def _draws():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_one_seed_fixes_torch_numpy_and_python_streams():
    seed_everything(5)
    first = _draws()
    seed_everything(5)
    assert _draws() == first
    seed_everything(6)
    assert all(a != b for a, b in zip(_draws(), first))
    seed_everything(2**40 + 5)  # beyond NumPy's 32-bit seeds: taken modulo 2^32
    assert np.random.rand(3).tolist() == first[1]


def test_captured_states_survive_a_checkpoint_and_resume_every_stream(tmp_path):
    seed_everything(1)
    _draws()
    save_checkpoint(tmp_path / "rng.pt", {"rng": capture_rng()})  # loads with weights_only=True
    expected = _draws()
    seed_everything(99)
    restore_rng(load_checkpoint(tmp_path / "rng.pt")["rng"])
    assert _draws() == expected


def test_the_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    order = epoch_permutation(50, seed=3, epoch=0)
    assert sorted(order.tolist()) == list(range(50))
    torch.manual_seed(123)  # the global stream plays no part
    assert torch.equal(order, epoch_permutation(50, seed=3, epoch=0))
    assert not torch.equal(order, epoch_permutation(50, seed=3, epoch=1))
    assert not torch.equal(order, epoch_permutation(50, seed=4, epoch=0))
