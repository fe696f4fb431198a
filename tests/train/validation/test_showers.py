"""The trainer's physics validation metrics: registration, config checking, values."""

import numpy as np
import pytest

from hepgan.errors import ConfigError
from hepgan.train.validation import (
    ValidationSamples,
    list_validation_metrics,
    validation_metric,
)


def _samples(a, b, n=1500):
    """Validation samples as the trainer makes them: generated showers at the reference's energies.

    The simulator draws its own impact points, so only the energy is passed as a condition (the
    observables then use window-relative centroids)."""
    e_a, e_b = a.incident_energies[:n, 0], b.incident_energies[:, 0]
    rows = np.empty(n, dtype=int)
    for e in np.unique(e_a):
        wanted = np.flatnonzero(e_a == e)
        rows[wanted] = np.flatnonzero(e_b == e)[: len(wanted)]
    return ValidationSamples(
        generated=b.showers[rows].astype(np.float64),
        reference=a.showers[:n].astype(np.float64),
        conditions={"energy": e_a.astype(np.float64)},
        geometry="atlas266",
    )


def test_metrics_are_registered_with_their_outputs():
    known = list_validation_metrics()
    assert known["physics"] == ("mean_separation_power", "max_separation_power", "fpd", "kpd")
    assert known["physics_auc"] == ("high_level_auc",)


def test_physics_metric_tells_a_wider_shower_from_the_reference(reference_a, reference_b, widened):
    fn, outputs = validation_metric("physics")
    same = fn(_samples(reference_a, reference_b))
    wide = fn(_samples(reference_a, widened))
    assert set(same) == set(outputs)
    assert same["mean_separation_power"] < 0.02 < wide["max_separation_power"]
    assert wide["mean_separation_power"] > 2 * same["mean_separation_power"]
    assert wide["fpd"] > same["fpd"] + 0.3 and wide["kpd"] > same["kpd"]


def test_physics_auc_metric(reference_a, reference_b, widened):
    fn, _ = validation_metric("physics_auc")
    assert fn(_samples(reference_a, reference_b))["high_level_auc"] < 0.56
    assert fn(_samples(reference_a, widened))["high_level_auc"] > 0.65


def test_metric_needs_showers_conditioned_on_energy():
    fn, _ = validation_metric("physics")
    images = ValidationSamples(generated=np.zeros((4, 784)), reference=np.zeros((4, 784)), kind="images")
    with pytest.raises(ConfigError, match="conditioned on energy"):
        fn(images)


def test_a_training_config_accepts_the_physics_metric(tmp_path):
    from hepgan.train import load_train_config

    config = load_train_config({
        "run_dir": str(tmp_path), "data": {"kind": "showers", "path": "x.h5"},
        "model": {"family": "wgan_gp", "generator": "DENSE|8|RELU, DENSE|266|SOFTPLUS",
                  "critic": "DENSE|8|LEAKYRELU, DENSE|1|LINEAR"},
        "eval": {"every": 10, "metrics": ["physics"], "select": "fpd"},
    })
    assert config.eval.select == "fpd"
