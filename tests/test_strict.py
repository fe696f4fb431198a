"""Config sections refuse unknown keys, and validation errors read ``section.key: what is wrong``."""

import pytest
from pydantic import Field, ValidationError, model_validator

from hepgan.strict import StrictModel, validation_problems


class Inner(StrictModel):
    rate: float = Field(0.1, gt=0)


class Outer(StrictModel):
    steps: int = 1
    inner: Inner = Inner()


class Checked(StrictModel):
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _ordered(self):
        if self.low >= self.high:
            raise ValueError("low must be below high")
        return self


def _problems(model, prefix=(), **values):
    with pytest.raises(ValidationError) as err:
        model(**values)
    return validation_problems(err.value, prefix)


def test_unknown_keys_are_refused_at_every_level():
    assert _problems(Outer, stepz=3) == "stepz: Extra inputs are not permitted"
    assert _problems(Outer, inner={"rat": 1.0}) == "inner.rat: Extra inputs are not permitted"
    assert Outer(steps=2, inner={"rate": 0.5}).inner.rate == 0.5


def test_every_problem_is_listed_on_one_line_under_its_dotted_key():
    text = _problems(Outer, steps="many", inner={"rate": -1.0})
    assert text == ("steps: Input should be a valid integer, unable to parse string as an integer; "
                    "inner.rate: Input should be greater than 0")
    assert "\n" not in text


def test_a_prefix_places_the_keys_in_their_section():
    assert _problems(Outer, ("train", "model"), inner={"rate": 0}) == \
        "train.model.inner.rate: Input should be greater than 0"


def test_a_problem_with_the_whole_config_is_reported_as_config_or_under_the_prefix():
    assert _problems(Checked, low=2.0, high=1.0) == "config: Value error, low must be below high"
    assert _problems(Checked, ("schedule",), low=2.0, high=1.0) == "schedule: Value error, low must be below high"
