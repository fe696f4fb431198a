"""Every shipped config loads, and trains two real steps on small data (MNIST configs on a small
MNIST look-alike, shower configs on a small simulated sample)."""

from pathlib import Path

import pytest

from hepgan.train import Trainer, load_train_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_there_is_a_config_for_every_family():
    families = {load_train_config(path).model.family for path in CONFIGS}
    assert families >= {"gan", "dcgan", "cgan", "cgan_mbl", "wgan_gp", "cwgan_gp"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_trains_two_steps(tmp_path, path, mnist_dir, shower_file):
    config = load_train_config(path)
    overrides = {"run_dir": str(tmp_path / "run"), "schedule.steps": 2, "schedule.batch_size": 8, "threads": 1,
                 "log.progress": False, "log.samples_every": 0, "eval.every": 0, "eval.metrics": [],
                 "eval.select": None}
    if config.data.kind == "images":
        overrides["data.mnist_dir"] = str(mnist_dir)
    else:
        overrides.update({"data.simulate": None, "data.path": str(shower_file), "data.exclude_energies_gev": [],
                          "schedule.batch_size": 16})
    trainer = Trainer(load_train_config(path, **overrides))
    result = trainer.fit()
    assert result.steps == 2
    assert all(v == v for v in result.last_logs.values())  # finite (not NaN)
