"""The typed training configuration: every knob of a run, its default, and its checks.

Loaded from YAML by :func:`load_train_config`; unknown keys and impossible values are rejected
at load time with the field's dotted path, so a typo fails in the first second. The resolved
config is saved in the run directory and inside every checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from hepgan.data.files import read_yaml_mapping
from hepgan.errors import ConfigError
from hepgan.models.config import ModelConfig
from hepgan.sim.config import SimConfig
from hepgan.strict import StrictModel, validation_problems


class ShowerDataConfig(StrictModel):
    """Showers from a file (any format hepgan reads) or simulated on the fly (cached by config hash)."""

    kind: Literal["showers"] = "showers"
    path: str | None = None
    simulate: SimConfig | None = None
    geometry: str | None = None
    conditions: list[Literal["energy", "impact_eta", "impact_phi", "alignment", "impact_offset"]] = Field(default_factory=lambda: ["energy"])
    exclude_energies_gev: list[float] = Field(default_factory=list, description="energy points left out of training")
    scarce_energies_gev: dict[float, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="train on only the first N showers at these energies, e.g. {262: 10} "
                                          "(soft extrapolation); the rest are held-out reference showers")
    max_events: int | None = Field(None, ge=1)
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    memory_mb: int = Field(2048, ge=1, description="showers in a CaloChallenge HDF5 file that would take more "
                                                   "memory than this are read from the file in blocks as training "
                                                   "goes, not loaded whole")
    cache_dir: str = "data/cache"

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.simulate is None):
            raise ValueError("give exactly one of data.path and data.simulate")
        return self


class ImageDataConfig(StrictModel):
    """Images from MNIST IDX files (a directory holding train-/t10k- files)."""

    kind: Literal["images"] = "images"
    mnist_dir: str
    split: Literal["train", "test"] = "train"
    conditional: bool = True
    max_events: int | None = Field(None, ge=1)
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0)


class OptimConfig(StrictModel):
    name: Literal["adam", "rmsprop"] = "adam"
    lr_g: float = Field(1e-4, gt=0.0)
    lr_d: float = Field(1e-4, gt=0.0)
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = Field(0.0, ge=0.0)

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, value):
        if not all(0.0 <= b < 1.0 for b in value):
            raise ValueError(f"betas must lie in [0, 1), got {value}")
        return value


class ScheduleConfig(StrictModel):
    steps: int = Field(1000, ge=1, description="generator updates")
    batch_size: int = Field(256, ge=1)
    n_critic: int = Field(5, ge=1, description="critic updates per generator update")
    n_gen: int = Field(1, ge=1, description="generator updates per iteration")
    gen_conditions: Literal["dataset", "chunk", "last"] = "dataset"
    ema_decay: float | None = Field(None, gt=0.0, lt=1.0)
    lr_decay_from: float | None = Field(None, gt=0.0, lt=1.0, description="from this fraction of `steps` on, both "
                                        "learning rates fall linearly to zero at `steps` (annealing; "
                                        "a run that time_limit_s stops early never reaches the low rates)")
    time_limit_s: float | None = Field(None, gt=0.0, description="a guard, not a schedule: stop (validate and "
                                                                   "checkpoint) once training has run this long, even "
                                                                   "before `steps`; the run is then marked cut short")


class EvalConfig(StrictModel):
    every: int = Field(0, ge=0, description="steps between validations; 0 = never")
    metrics: list[str] = Field(default_factory=list)
    select: str | None = Field(None, description="metric output that picks the best checkpoint")
    mode: Literal["min", "max"] = "min"
    n_generated: int = Field(2000, ge=1)


class CheckpointConfig(StrictModel):
    every: int = Field(500, ge=1)
    keep_last: int = Field(3, ge=1)


class LogConfig(StrictModel):
    every: int = Field(20, ge=1)
    progress: bool = True
    tensorboard: bool = Field(False, description="also write losses and metrics for TensorBoard (pip install tensorboard)")
    samples_every: int = Field(0, ge=0, description="steps between saved sample sets (npz + png); 0 = never")
    n_samples: int = Field(64, ge=1)


class NanConfig(StrictModel):
    policy: Literal["restore", "stop"] = "restore"
    lr_factor: float = Field(0.5, gt=0.0, lt=1.0)
    max_retries: int = Field(3, ge=0)
    snapshot_every: int = Field(50, ge=1)
    spike_factor: float | None = Field(100.0, gt=1.0, description="a step whose |loss_d| exceeds this x its "
                                                                   "median over the last spike_window steps has "
                                                                   "diverged and is restored like a NaN; None: off")
    spike_window: int = Field(200, ge=10)


class TrainConfig(StrictModel):
    run_dir: str = "runs/default"
    seed: int = Field(0, ge=0)
    threads: Annotated[int, Field(ge=1)] | Literal["auto"] | None = Field(
        None, description="torch CPU threads; 'auto' = the fastest count, timed on a few steps at start "
                          "(hepgan.train.threads); None = torch's default (one per core)")
    data: ShowerDataConfig | ImageDataConfig = Field(discriminator="kind")
    preprocessing: list[dict[str, Any]] = Field(default_factory=list)
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    eval: EvalConfig = EvalConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    log: LogConfig = LogConfig()
    nan: NanConfig = NanConfig()

    @field_validator("model")
    @classmethod
    def _known_family(cls, value: ModelConfig) -> ModelConfig:
        from hepgan.models import list_families

        if value.family not in list_families():
            raise ValueError(f"unknown model family {value.family!r}; valid: {', '.join(list_families())}")
        return value

    @field_validator("preprocessing")
    @classmethod
    def _transforms_exist(cls, value):
        from hepgan.data.transforms import transform_from_dict

        for stage in value:
            transform_from_dict(dict(stage))
        return value

    @model_validator(mode="after")
    def _consistent(self):
        from hepgan.train.validation import list_validation_metrics

        known = list_validation_metrics()
        outputs = []
        for name in self.eval.metrics:
            if name not in known:
                raise ValueError(f"unknown validation metric {name!r}; valid: {', '.join(known)}")
            outputs.extend(known[name])
        if self.eval.select and self.eval.select not in outputs:
            raise ValueError(f"eval.select {self.eval.select!r} is not produced by eval.metrics (they give {outputs})")
        if self.eval.metrics and self.eval.every == 0:
            raise ValueError("eval.metrics need eval.every > 0")
        if self.eval.select and self.eval.every == 0:
            raise ValueError("eval.select needs eval.every > 0")
        return self

    def fingerprint(self) -> str:
        """Hash of everything that shapes the training trajectory.

        Where and how a run is logged, checkpointed and validated, where its data is read from, its
        thread count and how many steps it runs for are left out: a run may be resumed with a longer
        schedule, or from another working directory.
        """
        payload = self.model_dump(
            mode="json", exclude={"run_dir": True, "log": True, "checkpoint": True, "eval": True, "nan": True,
                                  "threads": True, "schedule": {"steps", "time_limit_s"},
                                  "data": {"path", "mnist_dir", "cache_dir"}}
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def saved_fingerprint(state: dict) -> str | None:
    """The fingerprint of the config a checkpoint was made with, computed by this version from the
    config it carries, so that a field added since (at its default) is no change; the fingerprint
    it stored when that config cannot be read."""
    try:
        return TrainConfig(**json.loads(state["config"])).fingerprint()
    except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        return state.get("fingerprint")


def validation_message(exc: ValidationError, source: str) -> str:
    return f"{source}: {validation_problems(exc)}"


INPUT_PATHS = ("path", "mnist_dir")  # data keys naming files to read; outputs (run_dir, cache_dir) are not


def _inputs_from(values: dict, folder: Path) -> dict:
    """A config file's relative input paths, made absolute from the file's own folder: the config
    reads the same data whatever the working directory, and a run's saved config too."""
    data = values.get("data")
    if isinstance(data, dict):
        for key in INPUT_PATHS:
            value = data.get(key)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                data[key] = str((folder / value).resolve())
    return values


def load_train_config(source: str | Path | dict, **overrides) -> TrainConfig:
    """A TrainConfig from a YAML file, a run directory (its own config.yaml, the overrides it was
    started with included) or a dict; ``overrides`` are dotted keys, e.g. schedule.steps=10."""
    if isinstance(source, dict):
        values, name = json.loads(json.dumps(source)), "train config"
    elif Path(source).is_dir():
        if not (Path(source) / "config.yaml").is_file():
            raise ConfigError(f"{source}: a directory, but not a run directory (it holds no config.yaml)")
        name = str(Path(source) / "config.yaml")
        values = _inputs_from(read_yaml_mapping(name, "training config"), Path(name).parent)
    else:
        name = str(source)
        values = _inputs_from(read_yaml_mapping(source, "training config"), Path(source).parent)
    for dotted, value in overrides.items():
        node = values
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: cannot set {dotted}: {key} is not a section")
        node[leaf] = value
    try:
        return TrainConfig(**values)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, name)) from None
