"""A search or study YAML file that remembers where each key was written, so errors say which line.

Both kinds of file name other files (training configs); :meth:`SpecFile.resolve` finds them
relative to the working directory first (as ``hepgan train`` does) and then relative to the
YAML file itself.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from pydantic import ValidationError

from hepgan.errors import ConfigError
from hepgan.strict import validation_problems


class SpecFile:
    """A YAML mapping with the line of every key (``lines[("space", "optim.lr_g")] == 12``)."""

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        try:
            text = self.path.read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from None
        try:
            self.values = yaml.safe_load(text) or {}
            node = yaml.compose(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
        if not isinstance(self.values, dict):
            raise ConfigError(f"{path}: a {what} must be a mapping of key: value")
        self.lines: dict[tuple, int] = {}
        self._index(node, ())

    def _index(self, node, prefix: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = (*prefix, key.value)
                self.lines[path] = key.start_mark.line + 1
                self._index(value, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[(*prefix, i)] = item.start_mark.line + 1
                self._index(item, (*prefix, i))

    def where(self, *keys) -> str:
        """``file:line`` of the deepest of ``keys`` that was written down (the file alone if none)."""
        for n in range(len(keys), 0, -1):
            line = self.lines.get(tuple(keys[:n]))
            if line is not None:
                return f"{self.path}:{line}"
        return str(self.path)

    def error(self, keys: tuple, message: str) -> ConfigError:
        label = ".".join(str(k) for k in keys)
        return ConfigError(f"{self.where(*keys)}: {label}: {message}" if label else f"{self.where()}: {message}")

    def check_keys(self, mapping: dict, allowed: list[str], prefix: tuple = ()) -> None:
        """Reject keys outside ``allowed`` (with a did-you-mean)."""
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error((*prefix, key), f"unknown key{hint}; valid keys: {', '.join(allowed)}")

    def validation_error(self, exc: ValidationError, prefix: tuple = ()) -> ConfigError:
        """A pydantic error on a section of this file, pointing at the first bad key's line."""
        first = exc.errors()[0]
        keys = (*prefix, *first["loc"])
        return ConfigError(f"{self.where(*keys)}: {validation_problems(exc, prefix)}")

    def resolve(self, name: str, keys: tuple) -> Path:
        """A file this spec names: relative to the working directory, else to this file's folder."""
        for candidate in (Path(name), self.path.parent / name):
            if candidate.is_file():
                return candidate
        raise self.error(keys, f"no such file {name!r} (looked in the working directory and in {str(self.path.parent)!r})")
