import pytest

from hepgan.errors import ConfigError
from hepgan.train import load_train_config
from tests.helpers import shower_config


def test_a_valid_config_loads_with_defaults(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file))
    assert config.model.family == "cwgan_gp" and config.optim.name == "adam"
    assert config.schedule.steps == 6 and config.nan.policy == "restore"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"schedule": {"n_critic": 0}}, "schedule.n_critic: Input should be greater than or equal to 1"),
        ({"model": {"family": "wgan-gpp"}}, "unknown model family 'wgan-gpp'"),
        ({"optim": {"betas": [0.5, 1.5]}}, "betas must lie in [0, 1)"),
        ({"optim": {"lr_gg": 0.1}}, "optim.lr_gg: Extra inputs are not permitted"),
        ({"eval": {"every": 5, "metrics": ["response"], "select": "auc"}}, "eval.select 'auc' is not produced"),
        ({"eval": {"every": 5, "metrics": ["fid"]}}, "unknown validation metric 'fid'"),
        ({"preprocessing": [{"type": "LogTransfrom"}]}, "unknown transform"),
        ({"model": {"critic": "DENSE|64|RELU, DENSE|1|SIGMOD"}}, "model.critic: Value error, \nunknown activation 'SIGMOD'"),
        ({"model": {"generator": "calo-gg"}}, "unknown preset 'calo-gg' (did you mean 'calo-g'?)"),
    ],
)
def test_impossible_configs_are_rejected_naming_the_field(tmp_path, shower_file, change, message):
    with pytest.raises(ConfigError) as err:
        load_train_config(shower_config(tmp_path / "run", shower_file, **change))
    assert message in str(err.value)


def test_yaml_file_and_dotted_overrides(tmp_path, shower_file):
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(shower_config(tmp_path / "run", shower_file)))
    config = load_train_config(path, **{"schedule.steps": 11, "optim.lr_g": 0.002})
    assert config.schedule.steps == 11 and config.optim.lr_g == 0.002
    path.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_train_config(path)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_train_config(tmp_path / "absent.yaml")


def test_fingerprint_ignores_logging_and_length_but_not_the_model(tmp_path, shower_file):
    base = load_train_config(shower_config(tmp_path / "a", shower_file))
    relogged = load_train_config(shower_config(tmp_path / "b", shower_file, log={"every": 7}, schedule={"steps": 99}))
    changed = load_train_config(shower_config(tmp_path / "a", shower_file, optim={"lr_g": 0.01}))
    assert base.fingerprint() == relogged.fingerprint() != changed.fingerprint()


def test_relative_input_paths_are_read_from_the_config_files_folder(tmp_path, monkeypatch, shower_file):
    import shutil

    import yaml

    from tests.helpers import shower_config

    (tmp_path / "data").mkdir()
    shutil.copy(shower_file, tmp_path / "data" / "s.h5")
    (tmp_path / "configs").mkdir()
    config = shower_config("runs/r", "../data/s.h5")
    (tmp_path / "configs" / "train.yaml").write_text(yaml.safe_dump(config))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_train_config(tmp_path / "configs" / "train.yaml")
    assert loaded.data.path == str(tmp_path / "data" / "s.h5")
    assert loaded.run_dir == "runs/r"  # outputs stay relative to the working directory
    # --set paths are the shell's: from the working directory
    assert load_train_config(tmp_path / "configs" / "train.yaml", **{"data.path": "x.h5"}).data.path == "x.h5"
    # where the data is read from does not change the training: same fingerprint
    moved = load_train_config(tmp_path / "configs" / "train.yaml", **{"data.path": str(shower_file)})
    assert moved.fingerprint() == loaded.fingerprint()
