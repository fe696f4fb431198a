import numpy as np
import pytest
import torch

from hepgan.errors import ConfigError, DataError, HepganWarning
from hepgan.train import Trainer, load_train_config
from hepgan.train.generator import TrainedGenerator
from tests.helpers import shower_config


def test_a_restored_generator_reproduces_the_trainers_samples(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 4, "ema_decay": 0.9}))
    trainer = Trainer(config)
    trainer.fit()
    restored = TrainedGenerator.from_run(tmp_path / "run")
    assert restored.step == 4 and restored.geometry == "atlas266"
    val = trainer.data.val
    n = len(val)
    conditions = dict(val.physical)
    showers = restored.generate(conditions, seed=3)
    assert showers.shape == (n, 266) and (showers >= 0).all()
    z = torch.randn(n, restored.latent_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = trainer.ema(z, val.cond).numpy().astype(np.float64) * conditions["energy"][:, None]
    np.testing.assert_allclose(showers, expected, rtol=1e-5, atol=1e-6)
    data = restored.generate_showers(conditions)
    assert data.geometry == "atlas266" and data.showers.dtype == np.float32 and "impact_eta" in data.conditions


def _damage(path):
    """Replace the file at ``path`` (often a hard link to a step file) by its first half."""
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def two_checkpoint_run(tmp_path, shower_file):
    """A 4-step run whose best.pt and last.pt are two separate files."""
    run = tmp_path / "run"
    config = shower_config(run, shower_file, schedule={"steps": 4}, eval={"every": 2, "metrics": ["response"],
                                                                          "select": "response_error",
                                                                          "n_generated": 100})
    config["checkpoint"] = {"every": 2, "keep_last": 2}
    Trainer(load_train_config(config)).fit()
    best, last = run / "checkpoints" / "best.pt", run / "checkpoints" / "last.pt"
    if best.samefile(last):  # the last validation was the best: make best.pt its own file
        data = best.read_bytes()
        best.unlink()
        best.write_bytes(data)
    return run


def test_a_damaged_best_checkpoint_is_named_and_the_last_one_used(two_checkpoint_run):
    checkpoints = two_checkpoint_run / "checkpoints"
    _damage(checkpoints / "best.pt")
    with pytest.warns(HepganWarning, match=r"best.pt: damaged: not a readable checkpoint .*; using .*last.pt instead"):
        restored = TrainedGenerator.from_run(two_checkpoint_run)
    assert restored.step == 4


def test_a_damaged_last_checkpoint_is_named_when_the_best_one_is_used(two_checkpoint_run):
    checkpoints = two_checkpoint_run / "checkpoints"
    step = TrainedGenerator.from_run(two_checkpoint_run).step
    _damage(checkpoints / "last.pt")
    with pytest.warns(HepganWarning, match=r"last.pt: damaged.*; using .*best.pt \(resuming the run needs last.pt\)"):
        assert TrainedGenerator.from_run(two_checkpoint_run).step == step
    with pytest.raises(DataError, match="last.pt: damaged"):
        TrainedGenerator.from_run(two_checkpoint_run, which="last")


def test_a_directory_without_checkpoints_names_the_files_it_looked_for(tmp_path):
    with pytest.raises(ConfigError, match=r"not a trained run \(expected checkpoints/best.pt or checkpoints/last.pt\)"):
        TrainedGenerator.from_run(tmp_path)
    with pytest.raises(ConfigError, match=r"not a trained run \(expected checkpoints/last.pt\)"):
        TrainedGenerator.from_run(tmp_path, which="last")


def test_the_command_prints_the_warning_on_one_line(two_checkpoint_run, tmp_path, capsys):
    from hepgan.cli import main

    _damage(two_checkpoint_run / "checkpoints" / "best.pt")
    out = tmp_path / "gen.h5"
    assert main(["generate", str(two_checkpoint_run), "--energies", "8", "--events", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("hepgan generate: warning: ") and "best.pt: damaged" in err and err.count("\n") == 1
    assert out.is_file()
