"""Search files: the space is typed after the config fields, and every mistake names its line."""

import optuna
import pytest

from hepgan.errors import ConfigError
from hepgan.tune import load_search
from hepgan.tune.space import suggest_overrides
from tests.tune._helpers import write_base

GOOD = """\
study: s
config: base.yaml
set: {schedule.steps: 4}
objective: {metric: resolution_error}
space:
  optim.lr_g: {low: 1.0e-5, high: 1.0e-3, log: true}
  schedule.n_critic: {low: 1, high: 4}
  model.gp_weight: {low: 1, high: 20, step: 1}
  model.critic: ["DENSE|32|LEAKYRELU, DENSE|1|LINEAR", "DENSE|16|LEAKYRELU, DENSE|1|LINEAR"]
  optim.betas: [[0.5, 0.9], [0.0, 0.9]]
"""


def _search(tmp_path, shower_file, text):
    write_base(tmp_path, shower_file)
    path = tmp_path / "search.yaml"
    path.write_text(text)
    return load_search(path)


def test_ranges_take_the_type_of_their_config_field(tmp_path, shower_file):
    search = _search(tmp_path, shower_file, GOOD)
    kinds = {p.name: p.kind for p in search.space}
    assert kinds == {"optim.lr_g": "float", "schedule.n_critic": "int", "model.gp_weight": "float",
                     "model.critic": "categorical", "optim.betas": "categorical"}
    assert search.fixed == {"schedule.steps": 4} and search.max_steps == 4 and search.trials == 20
    assert search.run_dir.as_posix() == "runs/tune-s"
    chosen = suggest_overrides(search.space, optuna.trial.FixedTrial({
        "optim.lr_g": 1e-4, "schedule.n_critic": 3, "model.gp_weight": 5.0,
        "model.critic": "DENSE|16|LEAKYRELU, DENSE|1|LINEAR", "optim.betas": "[0.0, 0.9]"}))
    assert chosen["optim.betas"] == [0.0, 0.9]  # list-valued choices travel through Optuna as JSON
    assert chosen["schedule.n_critic"] == 3


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  optim.lr_g: {low: 1.0e-5", "  optim.lr_gg: {low: 1.0e-5",
     r"search.yaml:6: space.optim.lr_gg: unknown training-config field 'optim.lr_gg' \(did you mean 'optim.lr_g'\?\)"),
    ("schedule.n_critic: {low: 1, high: 4}", "schedule.n_critic: {low: 0, high: 4}",
     r"search.yaml:7: space.schedule.n_critic: value 0 is rejected by the training config: .*greater than or equal to 1"),
    ("schedule.n_critic: {low: 1, high: 4}", "schedule.n_critic: {low: 1.5, high: 4}",
     r"search.yaml:7: space.schedule.n_critic.low: schedule.n_critic is an integer field"),
    ("model.gp_weight: {low: 1, high: 20, step: 1}", "model.gp_weight: {low: 20, high: 1}",
     r"search.yaml:8: space.model.gp_weight: low \(20\) must be below high \(1\)"),
    ("{low: 1.0e-5, high: 1.0e-3, log: true}", "{low: 0, high: 1.0e-3, log: true}",
     r"search.yaml:6: space.optim.lr_g.low: a log range needs low > 0"),
    ("model.critic: [", "model.critic.layout: [",
     r"search.yaml:9: .*'model.critic' is a value, not a section"),
    ("objective: {metric: resolution_error}", "objective: {metric: resolution_eror}",
     r"search.yaml:4: objective.metric: unknown metric 'resolution_eror'; valid: .*resolution_error"),
    ("objective: {metric: resolution_error}", "objective: {metric: fpd}",
     r"search.yaml:4: objective.metric: 'fpd' comes from the validation metric 'physics', .*add it"),
    ("objective: {metric: resolution_error}", "objective: {metric: resolution_error, direction: down}",
     r"search.yaml:4: objective.direction: Input should be 'minimize' or 'maximize'"),
    ("set: {schedule.steps: 4}", "sett: {schedule.steps: 4}", r"search.yaml:3: sett: unknown key \(did you mean 'set'\?\)"),
    ("set: {schedule.steps: 4}", "set: {optim.lr_g: 0.001}", r"search.yaml:6: space.optim.lr_g: is also fixed under 'set'"),
    ("config: base.yaml", "config: nope.yaml", r"search.yaml:2: config: no such file 'nope.yaml'"),
])
def test_mistakes_name_the_line_and_the_key(tmp_path, shower_file, old, new, message):
    assert old in GOOD
    with pytest.raises(ConfigError, match=message):
        _search(tmp_path, shower_file, GOOD.replace(old, new))
