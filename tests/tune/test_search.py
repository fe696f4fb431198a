"""hepgan tune on the default SQLite storage: trials in their own run directories, the results
table, --report, and continuing a study with more trials."""

import csv
import json

import pytest
import yaml

from hepgan.cli import main
from hepgan.tune import tune
from tests.tune._helpers import sqlite_study as _study, write_search


@pytest.mark.slow
def test_a_sqlite_search_writes_trials_and_the_results_table(tmp_path, shower_file, capsys):
    path = write_search(tmp_path, shower_file)
    result = tune(path, say=lambda line: None)
    run_dir = tmp_path / "runs/search"
    assert result.counts == {"COMPLETE": 3} and result.best is not None
    trials = _study(run_dir, "search").trials
    assert [t.number for t in trials] == [0, 1, 2]
    for t in trials:
        trial_dir = run_dir / f"trial-{t.number:04d}"
        config = yaml.safe_load((trial_dir / "config.yaml").read_text())
        assert config["optim"]["lr_g"] == t.params["optim.lr_g"]  # the suggested values were trained
        assert config["model"]["critic"] == t.params["model.critic"]
        assert t.user_attrs["steps"] == 6 and "resolution_error" in t.user_attrs["metrics"]
        validations = [json.loads(line)["validation"]["resolution_error"]
                       for line in (trial_dir / "metrics.jsonl").read_text().splitlines() if "validation" in line]
        assert t.value == min(validations)  # reduce: best over the run's validations
    rows = list(csv.DictReader((run_dir / "results.csv").open()))
    assert [r["trial"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) >= {"trial", "state", "resolution_error", "optim.lr_g", "schedule.n_critic", "model.critic",
                            "wall_s", "run_dir"}
    assert all(r["state"] == "COMPLETE" and float(r["wall_s"]) > 0 for r in rows)
    markdown = (run_dir / "results.md").read_text()
    assert f"Best: trial {result.best['trial']}" in markdown and "DENSE\\|16\\|LEAKYRELU" in markdown
    assert (run_dir / "results.png").read_bytes()[:4] == b"\x89PNG"

    (run_dir / "results.md").unlink()
    assert main(["tune", str(path), "--report"]) == 0  # a finished study: only the table
    out = capsys.readouterr().out
    assert "| trial | state | resolution_error |" in out and "3 complete" in out
    assert (run_dir / "results.md").exists() and len(_study(run_dir, "search").trials) == 3
    assert main(["tune", str(path), "--trials", "4"]) == 0  # the same command continues the study
    assert len(_study(run_dir, "search").trials) == 4
