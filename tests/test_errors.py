"""The errors hepgan raises on bad input: one family, one-line messages naming the culprit."""

import pytest

from hepgan.errors import ConfigError, DataError, GeometryError, HepganError, unknown_name_error


def test_every_user_error_is_a_hepgan_error():
    for error in (DataError("f.h5", "bad"), GeometryError("bad"), ConfigError("bad")):
        assert isinstance(error, HepganError) and isinstance(error, Exception)
    with pytest.raises(HepganError, match="bad value"):
        raise ConfigError("bad value")


def test_a_data_error_names_its_source_then_the_problem(tmp_path):
    error = DataError(tmp_path / "showers.h5", "dataset 'showers' is missing")
    assert str(error) == f"{tmp_path / 'showers.h5'}: dataset 'showers' is missing"
    assert error.source == str(tmp_path / "showers.h5") and error.problem == "dataset 'showers' is missing"
    assert error.args == (str(error),)


def test_unknown_name_message_lists_the_valid_names_sorted():
    message = unknown_name_error("geometry", "atlas267", ["calogan", "atlas266", "calochallenge-2"])
    assert message == "unknown geometry 'atlas267'; valid names: atlas266, calochallenge-2, calogan"
