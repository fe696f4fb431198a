"""Results tables from a study's storage: one row per trial (Markdown, CSV, a plot) and, for configs x
seeds, mean +- sample spread per config."""

import csv
import math

import optuna
import pytest

from hepgan.tune.table import format_value, summarise, trial_records, write_summary, write_trials_table


def _row(trial, state, objective, params, metrics=None, note=""):
    return {"trial": trial, "state": state, "objective": objective, "params": params, "metrics": metrics or {},
            "wall_s": 2.5, "steps": 6, "run_dir": f"runs/trial-{trial:04d}", "worker": "h:1", "note": note}


def test_cells_show_four_significant_digits_json_and_nothing_for_none():
    assert format_value(None) == "" and format_value(True) == "true" and format_value(3) == "3"
    assert format_value(0.000123456) == "0.0001235" and format_value(123456.0) == "1.235e+05"
    assert format_value(math.nan) == "nan" and format_value("DENSE|8") == "DENSE|8"
    assert format_value([1, 2]) == "[1, 2]" and format_value({"a": 1}) == '{"a": 1}'


def test_trial_records_read_what_the_runner_stored():
    study = optuna.create_study()
    done = study.ask({"optim.lr_g": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)})
    for key, value in {"run_dir": "runs/trial-0000", "worker": "h:1", "metrics": {"fid": 3.0}, "steps": 6,
                       "wall_s": 1.5}.items():
        done.set_user_attr(key, value)
    study.tell(done, 0.25)
    failed = study.ask()
    failed.set_user_attr("error", "schedule.batch_size 100000 exceeds the 300 training samples")
    for key, value in {"config": "small", "seed": 2}.items():
        failed.set_user_attr(key, value)
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    first, second = trial_records(study)
    assert first == {"trial": 0, "state": "COMPLETE", "objective": 0.25,
                     "params": {"optim.lr_g": done.params["optim.lr_g"]}, "metrics": {"fid": 3.0}, "wall_s": 1.5,
                     "steps": 6, "run_dir": "runs/trial-0000", "worker": "h:1", "note": ""}
    assert second["state"] == "FAIL" and second["objective"] is None and second["note"].startswith("schedule.batch")
    assert second["params"] == {"config": "small", "seed": 2}  # a study's job comes first among the params
    assert second["wall_s"] is not None and second["wall_s"] >= 0  # from the trial's start and end when not stored


def test_the_trials_table_says_the_counts_the_best_trial_and_escapes_layouts(tmp_path):
    rows = [_row(0, "COMPLETE", 0.5, {"model.critic": "DENSE|8|RELU", "lr": 1e-4}),
            _row(1, "COMPLETE", 0.25, {"model.critic": "DENSE|16|RELU", "lr": 2e-4}),
            _row(2, "PRUNED", None, {"model.critic": "DENSE|8|RELU", "lr": 3e-4}, note="pruned at step 2"),
            _row(3, "COMPLETE", 0.75, {"model.critic": "DENSE|16|RELU"})]
    md, csv_path, png = write_trials_table(rows, tmp_path / "out", "search s", "fid", "minimize")
    text = md.read_text()
    assert text.startswith("# search s\n\n4 trials: 3 complete, 1 pruned.\n")
    assert "Best: trial 1, fid = 0.25 (model.critic = DENSE\\|16\\|RELU, lr = 0.0002)." in text
    assert "| trial | state | fid | model.critic | lr | wall_s | steps | run_dir | note |" in text
    assert "| 2 | PRUNED |  | DENSE\\|8\\|RELU | 0.0003 | 2.5 | 6 | runs/trial-0002 | pruned at step 2 |" in text
    table = list(csv.DictReader(csv_path.open()))
    assert [r["model.critic"] for r in table] == ["DENSE|8|RELU", "DENSE|16|RELU", "DENSE|8|RELU", "DENSE|16|RELU"]
    assert table[3]["lr"] == "" and table[2]["fid"] == ""  # missing values are empty cells
    assert png.read_bytes()[:4] == b"\x89PNG"
    md, _, _ = write_trials_table(rows, tmp_path / "max", "search s", "fid", "maximize")
    assert "Best: trial 3, fid = 0.75" in md.read_text()


def test_the_summary_shows_mean_and_sample_spread_and_a_lone_seed_alone(tmp_path):
    rows = [_row(i, "COMPLETE", v, {"config": c, "seed": s}, {"fid": v})
            for i, (c, s, v) in enumerate([("a", 1, 1.0), ("a", 2, 3.0), ("b", 1, 5.0)])]
    metrics, entries = summarise(rows, order=["c", "b", "a"])
    assert [e["config"] for e in entries] == ["c", "b", "a"] and entries[0]["n"] == 0 and entries[0]["values"] == {}
    md, csv_path, png = write_summary(rows, tmp_path, "seeds", order=["a", "b"])
    text = md.read_text()
    assert "| config | n | seeds | fid | wall_s | steps |" in text
    assert f"| a | 2 | 1, 2 | 2 ± {math.sqrt(2):.4g} | 2.5 ± 0 | 6 ± 0 |" in text
    assert "| b | 1 | 1 | 5 | 2.5 | 6 |" in text
    table = list(csv.DictReader(csv_path.open()))
    assert table[0]["fid_mean"] == "2.0" and float(table[0]["fid_std"]) == pytest.approx(math.sqrt(2))
    assert table[1]["seeds"] == "1" and table[1]["fid_std"] == ""
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_mean_and_sample_spread_per_config():
    rows = [{"state": "COMPLETE", "params": {"config": "a", "seed": s}, "metrics": {"is": v}, "wall_s": 1.0,
             "steps": 10} for s, v in ((1, 2.0), (2, 4.0), (3, 6.0))]
    rows.append({"state": "FAIL", "params": {"config": "a", "seed": 4}, "metrics": {}, "wall_s": 1.0, "steps": None})
    metrics, (entry,) = summarise(rows)
    assert metrics == ["is", "wall_s", "steps"] and entry["n"] == 3 and entry["seeds"] == [1, 2, 3]
    assert entry["values"]["is"][:2] == (4.0, 2.0)  # std with n - 1: the seed protocol's spread


def test_runs_table_names_the_objective_apart_from_the_metric_of_the_same_name(tmp_path):
    """A study's objective is the best value over the run, its metric column the final one: two
    columns, two names, so the CSV reads back without one hiding the other."""
    from hepgan.tune.table import write_trials_table

    rows = [{"trial": 0, "state": "COMPLETE", "objective": 9.1, "params": {"config": "a", "seed": 1},
             "metrics": {"inception_score": 8.9, "fid": 20.0}, "wall_s": 1.0, "steps": 10, "run_dir": "r", "note": ""}]
    write_trials_table(rows, tmp_path, "t", "inception_score", "maximize", with_metrics=True, stem="runs")
    with (tmp_path / "runs.csv").open() as f:
        header = next(csv.reader(f))
    assert len(header) == len(set(header))
    (row,) = csv.DictReader((tmp_path / "runs.csv").open())
    assert row["inception_score (objective)"] == "9.1" and row["inception_score"] == "8.9"
