"""The engine of hepgan tune and study: one trial trained in its own run directory and told to the
study, failures counted in a row, threads shared by local workers, worker processes' exits."""

import json

import optuna
import pytest

from hepgan.cli import main
from hepgan.errors import ConfigError
from hepgan.tune import runner
from hepgan.tune.objective import ObjectiveSpec
from hepgan.tune.runner import check_failures, child_main, local_threads, printer, run_trial, trial_dir
from tests.helpers import shower_config
from tests.tune._helpers import sqlite_study as _study, write_search


def test_a_trial_trains_in_its_own_directory_and_the_study_learns_its_objective(tmp_path, shower_file):
    values = shower_config("unused", shower_file, schedule={"steps": 4, "batch_size": 32, "n_critic": 1},
                           eval={"every": 2, "metrics": ["response"], "n_generated": 60})
    study = optuna.create_study(direction="minimize")
    trial = study.ask()
    state, summary = run_trial(study, trial, values, {"optim.lr_g": 2e-4}, ObjectiveSpec(metric="resolution_error"),
                               None, tmp_path / "runs")
    run_dir = tmp_path / "runs/trial-0000"
    assert trial_dir(tmp_path / "runs", 0) == run_dir
    (done,) = study.trials
    validations = [json.loads(line)["validation"]["resolution_error"]
                   for line in (run_dir / "metrics.jsonl").read_text().splitlines() if "validation" in line]
    assert state == "COMPLETE" and done.state.name == "COMPLETE" and done.value == min(validations)
    assert summary == f"resolution_error = {done.value:.4g}"
    attrs = done.user_attrs
    assert attrs["run_dir"] == str(run_dir) and attrs["steps"] == 4 and attrs["wall_s"] > 0
    assert attrs["metrics"]["resolution_error"] == validations[-1] and ":" in attrs["worker"]
    assert "lr_g: 0.0002" in (run_dir / "config.yaml").read_text()  # the overrides were trained

    trial = study.ask()  # a study without an objective: the value is the wall time
    state, summary = run_trial(study, trial, values, {}, None, None, tmp_path / "runs")
    assert state == "COMPLETE" and summary.startswith("wall_s = ") and study.trials[1].value > 0


def test_failures_in_a_row_stop_the_worker_and_a_success_resets_the_count():
    streak = check_failures("FAIL", "a", 0)
    streak = check_failures("FAIL", "b", streak)
    assert check_failures("COMPLETE", "ok", streak) == 0 and check_failures("PRUNED", "p", streak) == 0
    with pytest.raises(ConfigError, match="3 trials in a row failed; the last: c"):
        check_failures("FAIL", "c", streak)


def test_local_workers_share_the_cores(monkeypatch):
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 8)
    assert local_threads(None, 1) is None  # one worker: torch's own default
    assert local_threads(None, 2) == 4 and local_threads(None, 3) == 2 and local_threads(None, 16) == 1
    assert local_threads(3, 2) == 3  # a count the config sets is kept


def test_a_worker_process_ends_a_user_error_with_one_line_and_exit_code_2(capsys):
    def fails():
        raise ConfigError("bad search file")

    with pytest.raises(SystemExit) as exit_info:
        child_main(fails)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"hepgan worker {runner.os.getpid()}: error: bad search file\n"

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_info:
        child_main(interrupted)
    assert exit_info.value.code == 130
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        child_main(lambda: 1 / 0)
    seen = []
    child_main(seen.append, "ran")
    assert seen == ["ran"]
    printer("w1")("3 trials left")
    assert capsys.readouterr().out == "[w1] 3 trials left\n"


def test_a_failing_trial_is_recorded_and_repeated_failures_stop_the_worker(tmp_path, shower_file, capsys):
    # a batch larger than the data: every trial fails the same way; after 3 the worker gives up
    path = write_search(tmp_path, shower_file, name="broken", trials=5, set={"schedule.batch_size": 100_000})
    assert main(["tune", str(path)]) == 2
    assert "3 trials in a row failed; the last: schedule.batch_size 100000 exceeds" in capsys.readouterr().err
    trials = _study(tmp_path / "runs/broken", "broken").trials
    assert [t.state.name for t in trials] == ["FAIL"] * 3 and "exceeds" in trials[0].user_attrs["error"]
