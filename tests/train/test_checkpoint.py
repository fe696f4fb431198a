"""Checkpoints: plain values and tensors only, written atomically, pruned to the last K, with last.pt
and best.pt following the step files."""

import os
import pickle

import pytest
import torch

from hepgan.errors import DataError
from hepgan.train.checkpoint import CheckpointDir, checkpoint_damage, load_checkpoint, save_checkpoint


def test_a_checkpoint_round_trips_tensors_and_plain_values_and_leaves_no_temp_file(tmp_path):
    state = {"step": 7, "weights": {"w": torch.arange(6.0).reshape(2, 3)}, "config": "a: 1", "history": [1.5, None]}
    save_checkpoint(tmp_path / "c.pt", state)
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["format"] == "hepgan-checkpoint-1" and back["step"] == 7 and back["history"] == [1.5, None]
    assert torch.equal(back["weights"]["w"], state["weights"]["w"]) and back["config"] == "a: 1"
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
    with pytest.raises(DataError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.pt")


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1})
    with pytest.raises(Exception):
        save_checkpoint(path, {"step": 2, "bad": lambda: None})  # not picklable: the write fails midway
    assert load_checkpoint(path)["step"] == 1 and [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_the_directory_keeps_the_last_k_step_files_and_links_last_and_best(tmp_path):
    checkpoints = CheckpointDir(tmp_path / "checkpoints", keep_last=2)
    assert checkpoints.step_files() == []  # before the directory exists
    for step in (1, 2, 3, 4):
        path = checkpoints.save(step, {"step": step}, best=step == 2)
        assert path.name == f"step-{step:09d}.pt"
        assert load_checkpoint(checkpoints.last)["step"] == step
    assert [p.name for p in checkpoints.step_files()] == ["step-000000003.pt", "step-000000004.pt"]
    assert load_checkpoint(checkpoints.best)["step"] == 2  # outlives its pruned step file
    checkpoints.save(5, {"step": 5}, best=True)
    assert load_checkpoint(checkpoints.best)["step"] == 5
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "best.pt", "last.pt", "step-000000004.pt", "step-000000005.pt"]


def test_checkpoints_load_without_running_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "hepgan-checkpoint-1", "x": Evil()}, f, protocol=2)
    with pytest.raises(DataError, match="refused: it holds Python objects that would run code") as refused:
        load_checkpoint(path)
    assert len(str(refused.value)) < 200 and "weights_only" not in str(refused.value)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a hepgan checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match=r"cut.pt: damaged: not a readable checkpoint \(") as cut:
        load_checkpoint(tmp_path / "cut.pt")
    assert len(str(cut.value)) < 250 and "weights_only" not in str(cut.value)


def test_a_damaged_checkpoint_is_told_without_unpickling_it(tmp_path):
    save_checkpoint(tmp_path / "whole.pt", {"step": 3, "w": torch.ones(1000)})
    assert checkpoint_damage(tmp_path / "whole.pt") is None
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    assert checkpoint_damage(tmp_path / "cut.pt").startswith("damaged: not a readable checkpoint")
    with pytest.raises(DataError, match="damaged"):
        load_checkpoint(tmp_path / "cut.pt")
