"""Search and study files that remember the line of every key, so each mistake names file:line."""

import pytest
from pydantic import BaseModel, ValidationError

from hepgan.errors import ConfigError
from hepgan.tune.spec import SpecFile

TEXT = """\
study: s
config: base.yaml
space:
  optim.lr_g:
    low: 1.0e-5
    high: 1.0e-3
  model.critic:
    - DENSE|8|RELU
    - DENSE|16|RELU
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(TEXT)
    return SpecFile(path, "search file")


def test_every_key_and_list_item_has_its_line(spec):
    assert spec.values["space"]["optim.lr_g"] == {"low": 1e-5, "high": 1e-3}
    assert spec.lines[("study",)] == 1 and spec.lines[("space",)] == 3
    assert spec.lines[("space", "optim.lr_g", "high")] == 6
    assert spec.lines[("space", "model.critic", 1)] == 9
    assert spec.where("space", "optim.lr_g", "low") == f"{spec.path}:5"
    assert spec.where("space", "optim.lr_g", "log") == f"{spec.path}:4"  # not written: its deepest written parent
    assert spec.where("trials") == str(spec.path)


def test_errors_name_the_line_and_the_key(spec):
    assert str(spec.error(("space", "model.critic", 0), "not a layout")) == \
        f"{spec.path}:8: space.model.critic.0: not a layout"
    with pytest.raises(ConfigError, match=r"search.yaml:2: config: unknown key \(did you mean 'configs'\?\); "
                                          r"valid keys: study, configs, space"):
        spec.check_keys(spec.values, ["study", "configs", "space"])
    with pytest.raises(ConfigError, match=r"search.yaml:5: space.optim.lr_g.low: unknown key "
                                          r"\(did you mean 'lo'\?\); valid keys: lo, hi"):
        spec.check_keys(spec.values["space"]["optim.lr_g"], ["lo", "hi"], ("space", "optim.lr_g"))
    spec.check_keys(spec.values, ["study", "config", "space", "trials"])

    class Range(BaseModel):
        low: float
        high: float

    with pytest.raises(ValidationError) as exc:
        Range(**{"low": 1e-5, "high": "much"})
    message = str(spec.validation_error(exc.value, ("space", "optim.lr_g")))
    assert message.startswith(f"{spec.path}:6: space.optim.lr_g.high: ")


def test_files_it_names_are_found_in_the_working_directory_first(spec, tmp_path, monkeypatch):
    (tmp_path / "base.yaml").write_text("a: 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert spec.resolve("base.yaml", ("config",)) == tmp_path / "base.yaml"  # beside the spec file
    (elsewhere / "base.yaml").write_text("a: 2\n")
    assert spec.resolve("base.yaml", ("config",)).resolve() == elsewhere / "base.yaml"  # the working directory wins
    with pytest.raises(ConfigError, match=r"search.yaml:2: config: no such file 'other.yaml' \(looked in the "
                                          r"working directory and in "):
        spec.resolve("other.yaml", ("config",))


@pytest.mark.parametrize("text, message", [
    ("study: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "a search file must be a mapping of key: value"),
])
def test_a_file_that_is_not_a_mapping_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as exc:
        SpecFile(path, "search file")
    assert str(exc.value).startswith(str(path)) and "\n" not in str(exc.value)


def test_an_empty_file_is_an_empty_mapping_and_a_missing_one_an_error(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    assert SpecFile(tmp_path / "empty.yaml", "study file").values == {}
    with pytest.raises(ConfigError, match=r"absent.yaml: cannot read study file \(No such file or directory\)"):
        SpecFile(tmp_path / "absent.yaml", "study file")
