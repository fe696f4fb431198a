import numpy as np
import pytest
import torch

from hepgan.data.hdf5 import read_showers
from hepgan.data.transforms import EnergyNormalize
from hepgan.train import load_train_config
from hepgan.train.data import prepare_data
from hepgan.train.streamed import StreamedRows
from hepgan.train.trainer import Trainer
from tests.helpers import shower_config


def _rows(shower_file, cache_bytes=64 << 10, every=1):
    data = read_showers(shower_file)
    file_rows = np.arange(0, len(data), every)
    energies = data.incident_energies[file_rows, 0].astype(np.float64)
    transform = EnergyNormalize().fit(data.showers[file_rows].astype(np.float64), energies[:, None])
    streamed = StreamedRows(shower_file, file_rows, energies, transform, data.n_cells, cache_bytes, group_blocks=2)
    expected = transform.forward(data.showers[file_rows].astype(np.float64), energies[:, None]).astype(np.float32)
    return streamed, expected


def test_rows_are_the_transformed_file_rows(shower_file):
    streamed, expected = _rows(shower_file, every=3)  # every third row: reads skip the others
    assert streamed.n_blocks > 2  # the test reads across blocks
    idx = torch.tensor([5, 0, len(streamed) - 1, 17, 5])
    assert torch.allclose(streamed[idx], torch.from_numpy(expected[idx.numpy()]))
    assert torch.allclose(streamed[:4], torch.from_numpy(expected[:4]))
    with pytest.raises(IndexError):
        streamed[torch.tensor([len(streamed)])]


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch_and_local_to_groups(shower_file):
    streamed, _ = _rows(shower_file)
    order = streamed.order(seed=1, epoch=0)
    assert sorted(order.tolist()) == list(range(len(streamed)))
    assert torch.equal(order, streamed.order(seed=1, epoch=0))
    assert not torch.equal(order, streamed.order(seed=1, epoch=1))
    group = streamed.block_rows * streamed.group_blocks
    for start in range(0, len(order), group):  # each window of one group's size touches one group of blocks
        assert len(set((order[start : start + group] // streamed.block_rows).tolist())) <= streamed.group_blocks


def test_an_epoch_reads_every_block_once_and_holds_at_most_two_groups(shower_file):
    streamed, expected = _rows(shower_file)
    order = streamed.order(seed=3, epoch=0)
    held = 0
    for start in range(0, len(order), 8):  # batches smaller than a group, as in training
        idx = order[start : start + 8]
        assert torch.allclose(streamed[idx], torch.from_numpy(expected[idx.numpy()]))
        held = max(held, len(streamed._cache))
    assert streamed.blocks_read == streamed.n_blocks
    assert held <= 2 * streamed.group_blocks < streamed.n_blocks  # memory: a bounded share of the file


def test_prepare_data_streams_a_file_larger_than_the_memory_budget(shower_file, tmp_path):
    def prepared(memory_mb):
        return prepare_data(load_train_config(shower_config(tmp_path, shower_file, data={"memory_mb": memory_mb})))

    whole, streamed = prepared(4096), prepared(1)
    assert not whole.train.streamed and streamed.train.streamed
    assert len(whole.train) == len(streamed.train)
    idx = torch.arange(0, len(whole.train), 7)
    assert torch.allclose(whole.train.x[idx], streamed.train.x[idx])
    assert torch.equal(whole.train.cond, streamed.train.cond)
    assert torch.allclose(whole.val.x, streamed.val.x)


def test_a_streamed_run_resumes_bit_exactly(shower_file, tmp_path):
    def run(run_dir, steps, resume=False):
        config = load_train_config(shower_config(run_dir, shower_file, data={"memory_mb": 1},
                                                 schedule={"steps": steps, "batch_size": 32, "n_critic": 2},
                                                 checkpoint={"every": 2}))
        trainer = Trainer(config)
        assert trainer.data.train.streamed
        trainer.fit(resume=resume)
        return trainer.model.state_dict()

    straight = run(tmp_path / "a", 6)
    run(tmp_path / "b", 2)
    resumed = run(tmp_path / "b", 6, resume=True)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
