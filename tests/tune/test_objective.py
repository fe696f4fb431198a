"""What a trial is scored by: objectives a config can or cannot produce, best or last value over a
run, pruning on a validation metric, and a final-evaluation objective."""

import csv
import json
import math
import re
from types import SimpleNamespace

import optuna
import pytest

from hepgan.train import load_train_config
from hepgan.train.checkpoint import load_checkpoint
from hepgan.tune import tune
from hepgan.tune.objective import (
    ObjectiveSpec,
    PruneOnValidation,
    ValidationHistory,
    check_objective,
    final_metrics,
    is_better,
    objective_value,
)
from tests.helpers import image_config, shower_config
from tests.tune._helpers import sqlite_study as _study, write_search


@pytest.fixture
def response_config(tmp_path, shower_file):
    """A training config whose validation computes the response metric (response and resolution errors)."""
    return load_train_config(shower_config(tmp_path / "run", shower_file, eval={"every": 2, "metrics": ["response"]}))


def test_an_objective_the_config_produces_is_accepted(response_config):
    for spec in ({"metric": "resolution_error"}, {"metric": "response_error", "prune_on": "resolution_error"},
                 {"metric": "evaluate.fpd"}, {"metric": "evaluate.auc_high_level", "prune_on": "response_error"}):
        assert check_objective(ObjectiveSpec(**spec), response_config) is None


@pytest.mark.parametrize("spec, message", [
    ({"metric": "resolution"}, r"unknown metric 'resolution'; valid: .*resolution_error.*evaluate\.fpd"),
    ({"metric": "fpd"}, r"'fpd' comes from the validation metric 'physics', which the training config does not "
                        r"compute .*eval.metrics: \[physics\]"),
    ({"metric": "resolution_error", "prune_on": "evaluate.fpd"}, "prune_on must be a validation metric"),
    ({"metric": "evaluate.fid"}, r"unknown evaluation metric 'evaluate.fid'; valid: evaluate.auc_high_level"),
])
def test_an_objective_the_config_cannot_produce_is_explained(response_config, spec, message):
    assert re.search(message, check_objective(ObjectiveSpec(**spec), response_config))


def test_an_evaluation_objective_needs_showers(tmp_path, mnist_dir):
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "gan", "mlp-gan-g", "mlp-gan-d"))
    assert check_objective(ObjectiveSpec(metric="evaluate.fpd"), config) == \
        "'evaluate.fpd' evaluates showers; this config trains on images"


def test_the_pruning_metric_is_the_objective_unless_that_is_an_evaluation():
    assert ObjectiveSpec(metric="fid").pruning_metric == "fid"
    assert ObjectiveSpec(metric="fid", prune_on="inception_score").pruning_metric == "inception_score"
    assert ObjectiveSpec(metric="evaluate.fpd").pruning_metric is None
    assert ObjectiveSpec(metric="evaluate.fpd").is_evaluation and not ObjectiveSpec(metric="fid").is_evaluation
    assert is_better(1.0, 2.0, "minimize") and not is_better(1.0, 2.0, "maximize")
    assert not is_better(2.0, 2.0, "minimize") and not is_better(2.0, 2.0, "maximize")


def _history(*records):
    history = ValidationHistory()
    for step, metrics in records:
        history.on_validation(None, step, metrics)
    return history


def test_the_value_is_the_best_or_the_last_of_the_runs_finite_validations():
    history = _history((2, {"fid": 30.0}), (4, {"fid": 12.0}), (6, {"fid": math.nan}), (8, {"other": 1.0}))
    final = {"fid": 20.0}

    def value(**spec):
        return objective_value(ObjectiveSpec(metric="fid", **spec), None, history, final)

    assert value() == 12.0
    assert value(direction="maximize") == 30.0
    assert value(reduce="last") == 20.0
    assert math.isnan(objective_value(ObjectiveSpec(metric="fid"), None, _history((2, {"fid": math.inf})), {}))


def test_final_metrics_reuse_a_validation_at_the_last_step_or_validate_once_more():
    calls = []

    def trainer(step, metrics):
        return SimpleNamespace(step=step, config=SimpleNamespace(eval=SimpleNamespace(metrics=metrics)),
                               validate=lambda: calls.append(step) or {"fid": 1.0})

    history = _history((2, {"fid": 5.0}), (4, {"fid": 3.0}))
    assert final_metrics(trainer(4, ["inception"]), history) == {"fid": 3.0} and calls == []
    assert final_metrics(trainer(5, ["inception"]), history) == {"fid": 1.0} and calls == [5]
    assert final_metrics(trainer(5, []), history) == {}


def test_pruning_reports_finite_values_and_stops_the_trial_the_pruner_gives_up_on():
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1.0))
    trial = study.ask()
    prune = PruneOnValidation(trial, "fid")
    prune.on_validation(None, 2, {"fid": 0.5})
    prune.on_validation(None, 3, {"fid": math.nan})  # not reported
    prune.on_validation(None, 4, {"other": 9.0})  # not this run's metric
    with pytest.raises(optuna.TrialPruned, match="pruned at step 6: fid = 5"):
        prune.on_validation(None, 6, {"fid": 5.0})
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    (done,) = study.trials
    assert done.intermediate_values == {2: 0.5, 6: 5.0}
    assert done.user_attrs["note"] == "pruned at step 6 (fid = 5)"


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
