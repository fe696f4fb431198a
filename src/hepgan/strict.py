"""The one base of hepgan's config models, and the one way their validation errors are told.

Configs refuse keys they do not know (a misspelt option must not be silently ignored), and a bad
value is reported as ``section.key: what is wrong``, never as pydantic's multi-line dump.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def validation_problems(exc: ValidationError, prefix: tuple = ()) -> str:
    """``a.b: message; c: message`` for every problem pydantic found, keys under ``prefix``."""
    return "; ".join(f"{'.'.join(str(p) for p in (*prefix, *e['loc'])) or 'config'}: {e['msg']}"
                     for e in exc.errors())


__all__ = ["StrictModel", "validation_problems"]
