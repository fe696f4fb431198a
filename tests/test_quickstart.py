"""``hepgan quickstart`` end to end on a miniature of the shipped recipe: data simulated once and
cached, a trained and selected model, showers at every energy including the left-out one, the
report, and re-runs that reuse what exists."""

import json
from pathlib import Path

import pytest
import yaml

from hepgan.cli import main
from hepgan.errors import ConfigError
from hepgan.quickstart import PROMISE_S, headline, quickstart, recipe_path

pytestmark = pytest.mark.slow

SMALL = {
    "data.simulate.events_per_energy": 80,
    "model.generator": "CONCAT, DENSE|32|SWISH, DENSE|271|LINEAR",
    "model.critic": "CONCAT, DENSE|32|LEAKYRELU, DENSE|1|LINEAR",
    "schedule.steps": 4,
    "schedule.batch_size": 32,
    "schedule.n_critic": 1,
    "eval.every": 2,
    "eval.n_generated": 60,
    "threads": 1,
}


def test_the_shipped_recipe_is_the_flagship_model_trained_a_fixed_number_of_steps():
    recipe = yaml.safe_load(recipe_path().read_text())
    assert recipe["model"]["family"] == "calo_wgan"
    assert 25 in recipe["data"]["exclude_energies_gev"] and 25 in recipe["data"]["simulate"]["energies_gev"]
    # the time limit is a guard, far enough past the promise that a busy 2-core machine still trains every step
    assert recipe["schedule"]["time_limit_s"] >= 2 * PROMISE_S and recipe["threads"] == "auto"
    # the full recipe's model and data exactly, so the quickstart's figures speak for the flagship
    flagship = yaml.safe_load((Path(__file__).parents[1] / "configs/atlas266-photons.yaml").read_text())
    assert recipe["model"] == flagship["model"] and recipe["data"] == flagship["data"]


def test_quickstart_runs_the_whole_loop_and_reuses_what_exists(tmp_path):
    lines = []
    overrides = {**SMALL, "data.cache_dir": str(tmp_path / "cache")}
    result = quickstart(tmp_path / "run", progress=False, log=lines.append, **overrides)
    assert any("simulating" in line for line in lines)
    assert result.trained and result.report.exists()
    energies = [row["label"] for row in result.metrics["response"]]
    assert energies == [f"{e} GeV" for e in (1, 2, 4, 8, 16, 25, 32, 65, 131, 262)]  # incl. the left-out 25
    assert result.metrics["summary"]["auc_high_level"] is not None
    assert result.metrics["response_reference"]["fresh"] == 80 * 10  # as many fresh showers per energy as the data
    assert result.metrics["run"]["best"]["metric"] == "mean_separation_power"
    text = headline(result)
    assert str(result.report) in text and "classifier AUC" in text and "25 GeV" in text

    lines.clear()
    again = quickstart(tmp_path / "run", progress=False, log=lines.append, **overrides)
    assert any("cached" in line for line in lines) and not again.trained
    assert again.metrics["run"]["step"] == result.metrics["run"]["step"]

    with pytest.raises(ConfigError, match="different config"):
        quickstart(tmp_path / "run", progress=False, log=lines.append, **{**overrides, "optim.lr_g": 3e-4})


def test_quickstart_command_prints_where_the_report_is(tmp_path, capsys):
    args = ["quickstart", "--run-dir", str(tmp_path / "run"), "--no-progress",
            "--set", f"data.cache_dir={tmp_path / 'cache'}"]
    for key, value in SMALL.items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "last.pt").write_text("an old run")  # --fresh replaces what is there
    assert main([*args, "--fresh"]) == 0
    out = capsys.readouterr().out
    assert "training calo_wgan" in out
    assert f"report:   {tmp_path / 'run' / 'report.html'}" in out
    assert "sigma/mu gen/ref" in out  # the response / resolution table


def test_a_quickstart_cut_short_by_its_time_guard_says_so_in_the_summary_and_the_report(tmp_path):
    lines = []
    overrides = {**SMALL, "data.cache_dir": str(tmp_path / "cache"), "schedule.steps": 1_000_000,
                 "schedule.time_limit_s": 1.0, "eval.every": 100_000}
    result = quickstart(tmp_path / "run", progress=False, log=lines.append, **overrides)
    training = result.metrics["run"]["training"]
    done = training["steps"]
    assert training["cut_short"] and training["planned"] == 1_000_000 and 0 < done < 1_000_000
    # validated at the step it stopped, though before its first eval.every: a checkpoint was selected
    assert result.metrics["run"]["best"]["step"] == done == result.metrics["run"]["step"]
    text = headline(result)
    assert f"training: {done:,} of 1,000,000 steps (in " in text and "CPU thread" in text
    assert f"WARNING:  cut short by schedule.time_limit_s (1 s) after {done:,} of 1,000,000 planned steps" in text
    page = result.report.read_text()
    assert "Training was cut short by schedule.time_limit_s" in page and f"after {done:,} of 1,000,000" in page

    lines.clear()  # the next quickstart goes on training the run (here, again for its 1 s)
    again = quickstart(tmp_path / "run", progress=False, log=lines.append, **overrides)
    assert any("(cut short by its time limit)" in line for line in lines)
    assert again.trained and again.metrics["run"]["training"]["steps"] > done


def test_a_machine_well_past_the_promise_is_told_at_once_and_a_fast_one_is_not():
    from hepgan.quickstart import _Promise
    from hepgan.train.trainer import Estimate

    lines = []
    slow = Estimate(steps_per_s=2.0, elapsed_s=5.0, remaining_s=1995.0, planned=4000, time_limit_s=3600.0)
    _Promise(lines.append).on_estimate(None, slow)
    (line,) = lines
    assert "2.00 steps/s" in line and "about 35 min" in line and "still trains all 4,000 steps" in line
    assert "--set schedule.steps=2000" in line
    lines.clear()
    fast = Estimate(steps_per_s=20.0, elapsed_s=5.0, remaining_s=195.0, planned=4000, time_limit_s=3600.0)
    _Promise(lines.append).on_estimate(None, fast)
    assert lines == []
