"""hepgan study: configs x seeds shared by local worker processes, one table of mean +- spread."""

import csv

import optuna
import pytest
import yaml

from hepgan.cli import main
from hepgan.errors import ConfigError
from hepgan.tune import load_study
from tests.tune._helpers import CRITICS, write_base


def _write_study(tmp_path, shower_file, **fields):
    write_base(tmp_path, shower_file)
    spec = {"study": "seeds", "run_dir": str(tmp_path / "runs/seeds"), "seeds": [1, 2],
            "configs": ["base.yaml", {"path": "base.yaml", "name": "small", "seeds": 1,
                                      "set": {"model.critic": CRITICS[1]}}], **fields}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.slow
def test_two_local_workers_share_the_jobs_and_one_table_comes_out(tmp_path, shower_file, capsys):
    path = _write_study(tmp_path, shower_file)
    assert main(["study", str(path), "--workers", "2"]) == 0
    run_dir = tmp_path / "runs/seeds"
    trials = optuna.load_study(study_name="seeds", storage=f"sqlite:///{run_dir / 'study.db'}").trials
    jobs = sorted((t.user_attrs["config"], t.user_attrs["seed"]) for t in trials)
    assert jobs == [("base", 1), ("base", 2), ("small", 1)]  # each job once; small: 1 seed from its own (1)
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) >= 1
    for t in trials:
        config = yaml.safe_load((run_dir / f"trial-{t.number:04d}/config.yaml").read_text())
        assert config["seed"] == t.user_attrs["seed"] and config["threads"] == 1
    summary = list(csv.DictReader((run_dir / "summary.csv").open()))
    assert [(r["config"], r["n"]) for r in summary] == [("base", "2"), ("small", "1")]
    assert {"resolution_error_mean", "resolution_error_std", "response_error_mean", "wall_s_mean",
            "steps_mean"} <= set(summary[0])
    assert float(summary[0]["steps_mean"]) == 6 and summary[1]["resolution_error_std"] == ""
    markdown = (run_dir / "summary.md").read_text()
    assert "| config | n | seeds | response_error | resolution_error | wall_s | steps |" in markdown
    assert "| base | 2 | 1, 2 | " in markdown and " ± " in markdown
    assert (run_dir / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list(csv.DictReader((run_dir / "runs.csv").open()))) == 3
    assert main(["study", str(path), "--report"]) == 0
    assert "| small | 1 | 1 |" in capsys.readouterr().out


def test_study_file_mistakes_name_the_line(tmp_path, shower_file):
    path = _write_study(tmp_path, shower_file)
    text = path.read_text()
    path.write_text(text.replace("seeds: 1", "seeds: [1, 1]"))
    with pytest.raises(ConfigError, match=r"study.yaml:\d+: configs.1.seeds: lists a seed twice"):
        load_study(path)
    path.write_text(text.replace("name: small", "name: base"))
    with pytest.raises(ConfigError, match=r"configs.1: config name 'base' is used twice"):
        load_study(path)
    path.write_text(text.replace("model.critic:", "model.critc:"))
    with pytest.raises(ConfigError, match=r"configs.1.set.model.critc: unknown training-config field"):
        load_study(path)
