"""Validation metrics by name: a user's metric registered with its outputs is listed, accepted by a
training config, and called by the trainer on samples in physical units; unknown names are refused."""

import json

import numpy as np
import pytest

import hepgan.train.validation  # noqa: F401  (registers the built-in metrics first)
from hepgan.errors import ConfigError
from hepgan.train import Trainer, load_train_config
from hepgan.train.validation import registry
from hepgan.train.validation.registry import (
    ValidationSamples,
    list_validation_metrics,
    register_validation_metric,
    validation_metric,
)
from tests.helpers import shower_config


@pytest.fixture
def own_registry(monkeypatch):
    """A copy of the registry, so the metrics a test registers are gone after it."""
    monkeypatch.setattr(registry, "_METRICS", dict(registry._METRICS))


def test_a_registered_metric_is_listed_with_its_outputs_and_unknown_names_are_refused(own_registry):
    @register_validation_metric("mean_ratio", outputs=("mean_ratio", "n"))
    def mean_ratio(samples: ValidationSamples) -> dict[str, float]:
        return {"mean_ratio": float(samples.generated.mean() / samples.reference.mean()), "n": len(samples.generated)}

    assert list_validation_metrics()["mean_ratio"] == ("mean_ratio", "n")
    fn, outputs = validation_metric("mean_ratio")
    assert fn is mean_ratio and outputs == ("mean_ratio", "n")
    samples = ValidationSamples(generated=np.full((4, 3), 2.0), reference=np.ones((4, 3)))
    assert samples.kind == "showers" and samples.conditions == {} and samples.labels is None
    assert fn(samples) == {"mean_ratio": 2.0, "n": 4}
    assert list(list_validation_metrics()) == sorted(list_validation_metrics())
    with pytest.raises(ConfigError, match=r"unknown validation metric 'mean_ratoi'; valid names: .*mean_ratio"):
        validation_metric("mean_ratoi")


def test_the_trainer_validates_with_a_users_metric_in_physical_units(own_registry, tmp_path, shower_file):
    seen = []

    @register_validation_metric("response_ratio", outputs=("response_ratio",))
    def response_ratio(samples):
        seen.append(samples)
        energy = samples.conditions["energy"]
        ratio = (samples.generated.sum(1) / energy).mean() / (samples.reference.sum(1) / energy).mean()
        return {"response_ratio": abs(float(ratio) - 1.0)}

    config = load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 4},
                                             eval={"every": 2, "metrics": ["response_ratio"],
                                                   "select": "response_ratio", "n_generated": 30}))
    Trainer(config).fit()
    assert len(seen) == 2 and all(s.geometry == "atlas266" and s.kind == "showers" for s in seen)
    reference = seen[0].reference
    assert reference.shape == (30, 266) and (reference >= 0).all()
    response = reference.sum(1) / seen[0].conditions["energy"]
    assert 0.8 < np.median(response) < 1.1  # MeV showers of the data's response, not model-space values
    expected = [response_ratio(samples)["response_ratio"] for samples in list(seen)]
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["validation"]["response_ratio"] for r in records if "validation" in r] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="eval.select 'ratio' is not produced"):
        load_train_config(shower_config(tmp_path / "other", shower_file,
                                        eval={"every": 2, "metrics": ["response_ratio"], "select": "ratio"}))
