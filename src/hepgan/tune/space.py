"""A search space: training-config fields, by dotted path, and the values each may take.

In YAML (``space:`` of a search file)::

    optim.lr_g: {low: 1.0e-5, high: 1.0e-3, log: true}   # float range (log-uniform)
    schedule.n_critic: {low: 1, high: 10}                 # int range: the field is an int
    model.gp_weight: {low: 1, high: 20, step: 1}          # float range on a grid
    model.critic: [calo-d, "DENSE|128|LEAKYRELU, DENSE|1|LINEAR"]   # choices (or {choices: [...]})

Ranges are int or float after the type of the config field (``type: int|float`` overrides).
Every path is checked against :class:`hepgan.train.TrainConfig` and every bound and choice is
loaded into the base config once, so a typo or an impossible value fails when the file loads,
not in trial 37. The parameter's name in Optuna is its dotted path.
"""

from __future__ import annotations

import difflib
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from hepgan.errors import ConfigError
from hepgan.train.config import TrainConfig, load_train_config
from hepgan.tune.spec import SpecFile

_SCALARS = (str, int, float, bool, type(None))


@dataclass
class Parameter:
    """One searched field: a float or int range, or a list of choices."""

    name: str
    kind: str  # "float" | "int" | "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list | None = None

    @property
    def _encoded(self) -> bool:
        """Choices that are not plain values (lists, mappings) are offered to Optuna as JSON text."""
        return any(not isinstance(c, _SCALARS) for c in self.choices or [])

    def suggest(self, trial) -> Any:
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self._encoded:
            return json.loads(trial.suggest_categorical(self.name, [json.dumps(c) for c in self.choices]))
        return trial.suggest_categorical(self.name, self.choices)

    def describe(self) -> dict:
        if self.kind == "categorical":
            return {"choices": self.choices}
        out = {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}
        return {**out, "step": self.step} if self.step is not None else out

    def probe_values(self) -> list:
        """Values that must all be valid for the field: the bounds, or every choice."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]


def suggest_overrides(space: list[Parameter], trial) -> dict[str, Any]:
    """Dotted overrides for one trial, in the order of the space."""
    return {p.name: p.suggest(trial) for p in space}


def field_annotation(dotted: str) -> Any:
    """The type annotation of a TrainConfig field by dotted path; a ConfigError says what exists instead."""
    classes: list[type[BaseModel]] = [TrainConfig]
    parts = dotted.split(".")
    annotation: Any = None
    for i, part in enumerate(parts):
        owner = next((c for c in classes if part in c.model_fields), None)
        if owner is None:
            where = ".".join(parts[:i]) or "the training config"
            fields = sorted({f for c in classes for f in c.model_fields})
            close = difflib.get_close_matches(part, fields, n=1)
            hint = f" (did you mean {'.'.join([*parts[:i], close[0]])!r}?)" if close else ""
            raise ConfigError(f"unknown training-config field {dotted!r}{hint}; {where} has: {', '.join(fields)}")
        annotation = owner.model_fields[part].annotation
        classes = _model_classes(annotation)
        if i < len(parts) - 1 and not classes:
            raise ConfigError(f"training-config field {'.'.join(parts[: i + 1])!r} is a value, not a section; "
                              f"cannot search {dotted!r}")
    return annotation


def _model_classes(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return [c for arg in typing.get_args(annotation) for c in _model_classes(arg)]
    return []


def _is_int_field(annotation) -> bool:
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    kinds = {a for a in args if a is not type(None)}
    return kinds == {int}


def parse_space(spec: SpecFile, section: Any, base: dict, fixed: dict, key: str = "space") -> list[Parameter]:
    """The ``space:`` mapping of ``spec`` as Parameters, each checked against the base config."""
    if not isinstance(section, dict) or not section:
        raise spec.error((key,), "must be a non-empty mapping of dotted config field: range or choices")
    space = []
    for name, raw in section.items():
        keys = (key, name)
        if not isinstance(name, str):
            raise spec.error(keys, "parameter names are dotted training-config paths, e.g. optim.lr_g")
        try:
            annotation = field_annotation(name)
        except ConfigError as exc:
            raise spec.error(keys, str(exc)) from None
        if name in fixed:
            raise spec.error(keys, "is also fixed under 'set'; search it or fix it, not both")
        param = _parameter(spec, keys, name, raw, annotation)
        for value in param.probe_values():
            try:
                load_train_config(base, **{**fixed, name: value})
            except ConfigError as exc:
                raise spec.error(keys, f"value {value!r} is rejected by the training config: "
                                       f"{str(exc).split(': ', 1)[-1]}") from None
        space.append(param)
    return space


def _parameter(spec: SpecFile, keys: tuple, name: str, raw: Any, annotation) -> Parameter:
    if isinstance(raw, list):
        raw = {"choices": raw}
    if not isinstance(raw, dict):
        raise spec.error(keys, "give a range {low: ..., high: ...} or a list of choices")
    spec.check_keys(raw, ["low", "high", "log", "step", "choices", "type"], keys)
    kind = raw.get("type")
    if kind is not None and kind not in ("float", "int", "categorical"):
        raise spec.error((*keys, "type"), f"must be float, int or categorical, got {kind!r}")
    if "choices" in raw:
        choices = raw["choices"]
        extra = [k for k in ("low", "high", "log", "step") if k in raw]
        if extra:
            raise spec.error((*keys, extra[0]), "give either choices or a range, not both")
        if not isinstance(choices, list) or not choices:
            raise spec.error((*keys, "choices"), "must be a non-empty list")
        if len({json.dumps(c, sort_keys=True) for c in choices}) != len(choices):
            raise spec.error((*keys, "choices"), "lists a value twice")
        return Parameter(name, "categorical", choices=choices)
    if kind == "categorical":
        raise spec.error(keys, "type categorical needs choices: [...]")
    missing = [k for k in ("low", "high") if k not in raw]
    if missing:
        raise spec.error(keys, f"a range needs {' and '.join(missing)} (or give choices: [...])")
    kind = kind or ("int" if _is_int_field(annotation) else "float")
    values = {}
    for k in ("low", "high", "step"):
        if raw.get(k) is None:
            continue
        try:
            values[k] = float(raw[k]) if not isinstance(raw[k], bool) else math.nan
        except (TypeError, ValueError):
            values[k] = math.nan
        if not math.isfinite(values[k]):
            raise spec.error((*keys, k), f"must be a number, got {raw[k]!r}")
        if kind == "int" and values[k] != int(values[k]):
            raise spec.error((*keys, k), f"{name} is an integer field; got {raw[k]!r}")
    low, high, step = values["low"], values["high"], values.get("step")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise spec.error((*keys, "log"), f"must be true or false, got {log!r}")
    if not low < high:
        raise spec.error(keys, f"low ({raw['low']!r}) must be below high ({raw['high']!r})")
    if log and low <= 0:
        raise spec.error((*keys, "low"), f"a log range needs low > 0, got {raw['low']!r}")
    if step is not None and (step <= 0 or log):
        raise spec.error((*keys, "step"), "must be positive, and cannot be combined with log: true")
    if kind == "int":
        return Parameter(name, "int", int(low), int(high), log, int(step) if step else None)
    return Parameter(name, "float", low, high, log, step)


__all__ = ["Parameter", "field_annotation", "parse_space", "suggest_overrides"]
