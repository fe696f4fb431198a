"""hepgan tune on the default SQLite storage: trials in their own run directories, the results
table, --report, pruning that stops the trainer cleanly, and a final-evaluation objective."""

import csv
import json

import optuna
import pytest
import yaml

from hepgan.cli import main
from hepgan.train.checkpoint import load_checkpoint
from hepgan.tune import tune
from tests.tune._helpers import write_search


def _study(run_dir, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{run_dir / 'study.db'}")


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


def test_pruned_trials_stop_the_trainer_cleanly(tmp_path, shower_file):
    # a threshold nothing can reach: every trial is pruned at its first validation (step 2 of 6)
    path = write_search(tmp_path, shower_file, name="pruned", trials=2,
                        pruner={"kind": "threshold", "upper": -1.0})
    result = tune(path, say=lambda line: None)
    assert result.counts == {"PRUNED": 2} and result.best is None
    for t in _study(tmp_path / "runs/pruned", "pruned").trials:
        assert t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values.keys() == {2}
        assert t.user_attrs["note"].startswith("pruned at step 2") and t.user_attrs["steps"] == 2
        records = [json.loads(line) for line in (tmp_path / f"runs/pruned/trial-{t.number:04d}/metrics.jsonl")
                   .read_text().splitlines()]
        assert records[-1]["step"] == 2 and "validation" in records[-1]  # stopped right there, log intact
    rows = list(csv.DictReader((tmp_path / "runs/pruned/results.csv").open()))
    assert [r["state"] for r in rows] == ["PRUNED", "PRUNED"] and "pruned at step 2" in rows[0]["note"]


def test_the_objective_can_be_a_final_evaluation_metric(tmp_path, shower_file):
    path = write_search(tmp_path, shower_file, name="ev", trials=1,
                        objective={"metric": "evaluate.fpd", "direction": "minimize"})
    result = tune(path, say=lambda line: None)
    (trial,) = _study(tmp_path / "runs/ev", "ev").trials
    assert result.counts == {"COMPLETE": 1}
    assert trial.value == trial.user_attrs["metrics"]["evaluate.fpd"] > 0
    assert load_checkpoint(tmp_path / "runs/ev/trial-0000/checkpoints/last.pt")["step"] == 6


def test_a_failing_trial_is_recorded_and_repeated_failures_stop_the_worker(tmp_path, shower_file, capsys):
    # a batch larger than the data: every trial fails the same way; after 3 the worker gives up
    path = write_search(tmp_path, shower_file, name="broken", trials=5, set={"schedule.batch_size": 100_000})
    assert main(["tune", str(path)]) == 2
    assert "3 trials in a row failed; the last: schedule.batch_size 100000 exceeds" in capsys.readouterr().err
    trials = _study(tmp_path / "runs/broken", "broken").trials
    assert [t.state.name for t in trials] == ["FAIL"] * 3 and "exceeds" in trials[0].user_attrs["error"]
