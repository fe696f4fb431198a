"""Errors hepgan raises on bad input.

Every error a user can trigger is a :class:`HepganError`; the CLI prints its message on one line
and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations


class HepganError(Exception):
    """Base class of every error that is the user's to fix (bad file, bad config, bad name)."""


class DataError(HepganError):
    """A data file or array is malformed: names the source and what is wrong with it."""

    def __init__(self, source: object, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class GeometryError(HepganError):
    """An unknown geometry name or an inconsistent geometry description."""


class ConfigError(HepganError):
    """A configuration value that is impossible or inconsistent."""


class HepganWarning(UserWarning):
    """Something the user should know that does not stop the work (a damaged file passed over, a
    condition outside the trained range); the CLI prints it on one line."""


def unknown_name_error(kind: str, name: str, valid: list[str]) -> str:
    """Message for a registry miss, listing what would have worked."""
    return f"unknown {kind} {name!r}; valid names: {', '.join(sorted(valid))}"
