"""Assertions shared by the data tests."""

from contextlib import contextmanager

import pytest

from hepgan.errors import DataError


@contextmanager
def raises_data_error(path, *fragments):
    """Expect a one-line DataError whose message names ``path`` and contains every fragment."""
    with pytest.raises(DataError) as info:
        yield info
    message = str(info.value)
    assert path.name in message and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
