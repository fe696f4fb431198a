"""Model configs: layouts and presets are parsed when the config is made, unknown keys are refused,
and runs written with older option values still load."""

import pytest
from pydantic import ValidationError

from hepgan.models.config import CaloConfig, ModelConfig


@pytest.mark.parametrize("field", ["generator", "critic"])
def test_layouts_and_presets_are_checked_when_the_config_is_made(field):
    assert getattr(ModelConfig(**{field: "mlp-gan-g"}), field) == "mlp-gan-g"  # a preset name
    assert getattr(ModelConfig(**{field: "DENSE|8|RELU, DENSE|1|LINEAR"}), field) == "DENSE|8|RELU, DENSE|1|LINEAR"
    with pytest.raises(ValidationError, match=r"unknown preset 'mlp-gann-g' \(did you mean 'mlp-gan-g'\?\)"):
        ModelConfig(**{field: "mlp-gann-g"})
    with pytest.raises(ValidationError, match=r"unknown preset 'no-such-thing'; presets: calo, "):
        ModelConfig(**{field: "no-such-thing"})
    with pytest.raises(ValidationError, match=r"unknown activation 'RELUU'.*\n.*DENSE\|8\|RELUU"):
        ModelConfig(**{field: "DENSE|8|RELUU"})


def test_the_summary_critics_layout_is_checked_too():
    assert ModelConfig(summary_critic={}).summary_critic.layout.endswith("DENSE|1|LINEAR")
    with pytest.raises(ValidationError, match=r"(?s)summary_critic.layout.*'units' of DENSE must be a positive"):
        ModelConfig(summary_critic={"layout": "DENSE|x"})
    with pytest.raises(ValidationError, match="loss_weight"):
        ModelConfig(summary_critic={"loss_weight": 0.0})


def test_unknown_keys_are_refused_in_every_section():
    for bad in ({"latent": 8}, {"calo": {"knotz": 3}}, {"layered": {"widht": 8}}, {"projection": {"los": "bce"}}):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            ModelConfig(**bad)


@pytest.mark.parametrize("value, message", [
    ({"label_smoothing": 0.5}, "label_smoothing"),  # one-sided smoothing of 0.5 would make real look fake
    ({"latent_dim": 0}, "latent_dim"),
    ({"gp_every": 0}, "gp_every"),
    ({"calo": {"knots": 1}}, "knots must be 0 .* or >= 2"),
    ({"calo": {"eps_cell": 0.5}}, "eps_cell"),
    ({"calo": {"eps_cell": "fixed"}}, "eps_cell"),
    ({"calo": {"empty_below": 1.0}}, "empty_below"),
    ({"calo": {"gaussian_path": "some"}}, "gaussian_path"),
])
def test_impossible_values_are_refused_naming_the_field(value, message):
    with pytest.raises(ValidationError, match=message):
        ModelConfig(**value)


def test_eps_cell_is_adaptive_or_a_number_in_range_and_knots_span_a_range():
    assert CaloConfig(eps_cell="adaptive").eps_cell == "adaptive"
    assert CaloConfig(eps_cell=1e-3).eps_cell == 1e-3
    assert CaloConfig(knots=0).knots == 0 and CaloConfig(knots=2).knots == 2


def test_runs_saved_when_the_gaussian_path_was_a_switch_still_load():
    assert CaloConfig(gaussian_path=True).gaussian_path == "all"
    assert CaloConfig(gaussian_path=False).gaussian_path == "none"
    assert CaloConfig().gaussian_path == "summaries"
