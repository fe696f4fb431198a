"""Image metrics as trainer validation metrics: registered names, values, and a real training run
that selects its best checkpoint by one of them."""

import json
import math

import numpy as np
import pytest

from hepgan.errors import ConfigError
from hepgan.train import Trainer, ValidationSamples, load_train_config
from hepgan.train.validation import list_validation_metrics, validation_metric
from tests.helpers import image_config

OUTPUTS = {
    "inception": ("inception_score", "inception_score_std", "fid", "label_accuracy"),
    "image_prd": ("prd_auc", "prd_f8", "prd_f1_8"),
    "image_prdc": ("prdc_precision", "prdc_recall", "prdc_density", "prdc_coverage"),
}


def samples(generated, reference, labels=None, kind="images"):
    return ValidationSamples(generated=np.asarray(generated, np.float64).reshape(len(generated), -1),
                             reference=np.asarray(reference, np.float64).reshape(len(reference), -1),
                             labels=labels, kind=kind)


def test_names_and_outputs_are_registered():
    registered = list_validation_metrics()
    for name, outputs in OUTPUTS.items():
        assert registered[name] == outputs


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_each_metric_returns_its_declared_finite_outputs(name):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 784))
    fn, outputs = validation_metric(name)
    values = fn(samples(images[:20], images[20:], labels=rng.integers(0, 10, 20)))
    assert tuple(values) == outputs
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())


def test_label_accuracy_is_nan_without_labels_and_other_data_is_refused():
    images = np.random.default_rng(1).integers(0, 256, size=(20, 784))
    fn, _ = validation_metric("inception")
    assert math.isnan(fn(samples(images, images))["label_accuracy"])
    for name in OUTPUTS:
        with pytest.raises(ConfigError, match="image data"):
            validation_metric(name)[0](samples(images, images, kind="showers"))
    with pytest.raises(ConfigError, match="labels"):
        fn(samples(images, images, labels=np.zeros(3, int)))


def test_real_images_score_as_real(mnist_train, mnist_test):
    """Real test images as the 'generated' set against real training images."""
    s = samples(mnist_test.images[:1000], mnist_train.images[:1000], labels=mnist_test.labels[:1000])
    inception = validation_metric("inception")[0](s)
    # FID is biased upward at small N: ~27 at 1000 vs 1000 images, ~1.7 at 10k vs 10k
    assert inception["inception_score"] > 9.0 and inception["fid"] < 40.0 and inception["label_accuracy"] >= 0.99
    prdc = validation_metric("image_prdc")[0](s)
    # 128-D k-NN balls from 1000 samples: density 0.88, coverage 0.74 measured (0.92 / 0.94 at 10k)
    assert prdc["prdc_density"] == pytest.approx(1.0, abs=0.25) and prdc["prdc_coverage"] > 0.6


@pytest.mark.filterwarnings("ignore:eval.metrics.*packaged MNIST LeNet")  # the look-alike data is not MNIST
def test_trainer_selects_the_best_checkpoint_by_an_image_metric(tmp_path, mnist_dir):
    config = load_train_config(image_config(
        tmp_path / "run", mnist_dir, "cgan", "DENSE|32|RELU, DENSE|784|TANH, RESHAPE|1|28|28",
        "DENSE|32|LEAKYRELU, DENSE|1|SIGMOID",
        schedule={"steps": 4, "batch_size": 16, "n_critic": 1},
        eval={"every": 2, "metrics": ["inception", "image_prdc"], "select": "fid", "mode": "min",
              "n_generated": 30}))
    result = Trainer(config).fit()
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    validations = [r["validation"] for r in records if "validation" in r]
    assert len(validations) == 2
    assert set(validations[0]) == set(OUTPUTS["inception"] + OUTPUTS["image_prdc"])
    assert result.best["metric"] == "fid"
    assert result.best["value"] == min(v["fid"] for v in validations)
