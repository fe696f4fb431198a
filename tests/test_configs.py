"""Every shipped config loads, and trains two real steps on small data (MNIST configs on a small
MNIST look-alike, shower configs on a small simulated sample); every search file (``space:``)
and study file (``configs:``) loads with all its parameters, metrics and configs checked."""

from pathlib import Path

import pytest
import yaml

from hepgan.train import Trainer, load_train_config
from hepgan.tune import load_search, load_study

ROOT = Path(__file__).resolve().parents[1]
ALL_YAML = sorted((ROOT / "configs").glob("*.yaml"))
_KIND = {path: "search" if "space" in doc else "study" if "configs" in doc else "train"
         for path in ALL_YAML for doc in [yaml.safe_load(path.read_text()) or {}]}
CONFIGS = [p for p in ALL_YAML if _KIND[p] == "train"]
SEARCHES_AND_STUDIES = [p for p in ALL_YAML if _KIND[p] != "train"]


@pytest.mark.parametrize("path", SEARCHES_AND_STUDIES, ids=[p.stem for p in SEARCHES_AND_STUDIES])
def test_search_and_study_files_load(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # they name their training configs relative to the repository root
    if _KIND[path] == "search":
        assert load_search(path).space
    else:
        assert load_study(path).jobs


def test_there_is_a_config_for_every_family():
    families = {load_train_config(path).model.family for path in CONFIGS}
    assert families >= {"gan", "dcgan", "cgan", "cgan_mbl", "cgan_proj", "wgan_gp", "cwgan_gp"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_trains_two_steps(tmp_path, path, mnist_dir, shower_file):
    config = load_train_config(path)
    overrides = {"run_dir": str(tmp_path / "run"), "schedule.steps": 2, "schedule.batch_size": 8, "threads": 1,
                 "log.progress": False, "log.samples_every": 0, "eval.every": 0, "eval.metrics": [],
                 "eval.select": None}
    if config.data.kind == "images":
        overrides["data.mnist_dir"] = str(mnist_dir)
    elif config.data.simulate is not None and config.data.simulate.geometry != "atlas266":
        sim = config.data.simulate
        size = {"data.simulate.n_events": 64} if sim.energy_range_gev or sim.spectrum else \
            {"data.simulate.events_per_energy": 16}
        overrides.update({**size, "data.cache_dir": str(tmp_path / "cache"), "schedule.batch_size": 16})
    else:
        overrides.update({"data.simulate": None, "data.path": str(shower_file), "data.exclude_energies_gev": [],
                          "schedule.batch_size": 16})
    trainer = Trainer(load_train_config(path, **overrides))
    result = trainer.fit()
    assert result.steps == 2
    assert all(v == v for v in result.last_logs.values())  # finite (not NaN)
