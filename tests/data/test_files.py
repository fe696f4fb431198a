"""File-handling pieces shared by every reader and writer: atomic output, one-line errors, checks, JSON."""

import json
from pathlib import Path

import numpy as np
import pytest

from hepgan.data.files import (
    atomic_output,
    attrs_to_json,
    check_finite_rows,
    json_default,
    one_line,
    read_yaml_mapping,
    require_file,
    temp_path_for,
)
from hepgan.errors import ConfigError

from ._helpers import raises_data_error


def test_one_line_squashes_multi_line_messages_and_names_silent_errors():
    assert one_line(OSError("Unable to open file\n  (truncated)\n\tat  offset 4")) == \
        "Unable to open file (truncated) at offset 4"
    assert one_line(KeyError()) == "KeyError"


def test_temp_paths_are_hidden_unique_siblings():
    path = Path("/some/dir/showers.h5")
    first, second = temp_path_for(path), temp_path_for(path)
    assert first.parent == second.parent == path.parent  # same filesystem: os.replace is atomic
    assert first.name.startswith(".showers.h5.") and first.name.endswith(".tmp")
    assert first != second


def test_atomic_output_moves_the_finished_file_into_place(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_output(path) as tmp:
        assert tmp != path and tmp.parent == tmp_path
        tmp.write_text("new")
        assert path.read_text() == "old"  # nothing changes until the block succeeds
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("error", [ValueError("bad data"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path, error):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(type(error)):
        with atomic_output(path) as tmp:
            tmp.write_text("half written")
            raise error
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    fresh = tmp_path / "fresh.txt"
    with pytest.raises(ValueError):
        with atomic_output(fresh) as tmp:
            tmp.write_text("half written")
            raise ValueError("bad data")
    assert not fresh.exists() and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_output_refuses_a_missing_directory_and_a_directory_target(tmp_path):
    with raises_data_error(tmp_path / "nowhere" / "out.txt", "cannot write: directory", "does not exist"):
        with atomic_output(tmp_path / "nowhere" / "out.txt"):
            pytest.fail("the block must not run")
    (tmp_path / "taken").mkdir()
    with raises_data_error(tmp_path / "taken", "cannot write: a directory of that name exists"):
        with atomic_output(tmp_path / "taken"):
            pytest.fail("the block must not run")


def test_require_file_names_a_missing_file_or_a_directory(tmp_path):
    existing = tmp_path / "data.h5"
    existing.write_bytes(b"x")
    assert require_file(str(existing)) == existing
    with raises_data_error(tmp_path / "absent.h5", "no such file"):
        require_file(tmp_path / "absent.h5")
    with raises_data_error(tmp_path, "is a directory, not a data file"):
        require_file(tmp_path)


def test_non_finite_values_are_reported_with_their_absolute_row_and_column(tmp_path):
    source = tmp_path / "s.h5"
    showers = np.ones((4, 3), np.float32)
    showers[2, 1], showers[3, 0] = np.nan, np.inf
    with raises_data_error(source, "showers contains 2 non-finite value(s) (first: nan at row 102, column 1)"):
        check_finite_rows(showers, "showers", source, row_offset=100)
    energies = np.array([1.0, 2.0, -np.inf])
    with raises_data_error(source, "incident energies contains 1 non-finite value(s) (first: -inf at row 2)"):
        check_finite_rows(energies, "incident energies", source)
    check_finite_rows(np.ones((2, 2)), "showers", source)  # finite: no error
    check_finite_rows(np.arange(6).reshape(2, 3), "labels", source)  # integers cannot be non-finite
    check_finite_rows(np.zeros((0, 3)), "showers", source)
    with raises_data_error(source, "scale is not finite (nan)"):
        check_finite_rows(np.array(np.nan), "scale", source)


def test_numpy_values_serialise_as_plain_json_and_anything_else_is_a_data_error(tmp_path):
    attrs = {"n": np.int64(7), "x": np.float32(1.5), "flag": np.bool_(True), "edges": np.array([[0, 1], [2, 3]])}
    assert json.loads(attrs_to_json(attrs, "s.h5")) == {"n": 7, "x": 1.5, "flag": True, "edges": [[0, 1], [2, 3]]}
    with pytest.raises(TypeError, match="object is not JSON-serialisable"):
        json_default(object())
    with raises_data_error(tmp_path / "s.h5", "attrs cannot be stored as JSON: set is not JSON-serialisable"):
        attrs_to_json({"names": {"a"}}, tmp_path / "s.h5")


def test_read_yaml_mapping_gives_a_mapping_or_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\nb: [2, 3]\n")
    assert read_yaml_mapping(path, "config") == {"a": 1, "b": [2, 3]}
    path.write_text("")
    assert read_yaml_mapping(path, "config") == {}
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: a training config must be a mapping of key: value"):
        read_yaml_mapping(path, "training config")
    path.write_text("a: [1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML \(") as err:
        read_yaml_mapping(path, "config")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"absent\.yaml: cannot read config \(No such file or directory\)"):
        read_yaml_mapping(tmp_path / "absent.yaml", "config")
