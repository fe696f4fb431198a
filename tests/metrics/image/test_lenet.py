"""The packaged LeNet: loads safely, fails clearly on bad files, one input convention, and its
accuracy on the real MNIST test set."""

import json
import shutil

import numpy as np
import pytest
import torch

from hepgan.errors import DataError, HepganError
from hepgan.metrics.image import LeNet, classify, default_weights_path, load_lenet, predict_proba, preprocess
from hepgan.metrics.image.lenet import FEATURE_DIM, sha256_of


def test_packaged_weights_are_small_recorded_and_load_in_eval_mode():
    path = default_weights_path()
    assert path.is_file() and path.stat().st_size < 1_000_000
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["sha256"] == sha256_of(path)
    assert record["test_accuracy"] >= 0.99 and {"seed", "epochs"} <= set(record)
    state = torch.load(path, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    model = load_lenet()
    assert isinstance(model, LeNet) and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert load_lenet() is model  # cached


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(HepganError, match="missing.*train_lenet"):
        load_lenet(tmp_path / "nope.pt")


def test_corrupt_files_are_clear_errors(tmp_path):
    good = default_weights_path()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(HepganError, match="cannot load LeNet weights"):
        load_lenet(truncated)
    shutil.copy(good.with_suffix(".json"), truncated.with_suffix(".json"))  # with its record: sha check
    with pytest.raises(HepganError, match="corrupt.*sha256"):
        load_lenet(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(HepganError, match="cannot load"):
        load_lenet(garbage)


def test_files_that_are_not_lenet_weights_are_clear_errors(tmp_path):
    wrong_shape = tmp_path / "wrong.pt"
    torch.save({**LeNet().state_dict(), "fc2.bias": torch.zeros(11)}, wrong_shape)
    with pytest.raises(HepganError, match="do not fit"):
        load_lenet(wrong_shape)
    not_tensors = tmp_path / "numbers.pt"
    torch.save({"a": 1}, not_tensors)
    with pytest.raises(HepganError, match="state_dict"):
        load_lenet(not_tensors)
    copy = tmp_path / "copy.pt"
    shutil.copy(default_weights_path(), copy)
    assert isinstance(load_lenet(copy), LeNet)  # no sidecar: loads without the sha check


def test_all_accepted_shapes_and_dtypes_preprocess_alike():
    images = np.random.default_rng(1).integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    reference = preprocess(images)
    assert reference.shape == (5, 1, 28, 28) and reference.dtype == torch.float32
    for variant in (images.reshape(5, 784), images.reshape(5, 1, 28, 28), images.astype(np.float64),
                    torch.from_numpy(images)):
        torch.testing.assert_close(preprocess(variant), reference)
    torch.testing.assert_close(preprocess(images / 255.0, value_range=(0, 1)), reference)
    torch.testing.assert_close(preprocess(images / 127.5 - 1.0, value_range=(-1, 1)), reference)
    # black is the MNIST background after normalisation
    assert float(preprocess(np.zeros((1, 784)))[0, 0, 0, 0]) == pytest.approx(-0.1307 / 0.3081)


@pytest.mark.parametrize("images", [np.zeros((5, 783)), np.zeros((5, 2, 28, 28)), np.zeros(784),
                                    np.full((2, 784), np.nan), np.full((2, 784), "x"), np.zeros((0, 784))])
def test_bad_images_are_data_errors(images):
    with pytest.raises(DataError):
        classify(images)


def test_read_only_arrays_are_accepted_without_copies_of_the_whole_set():
    images = np.zeros((3, 28, 28), np.uint8)
    images.flags.writeable = False
    assert classify(images)[0].shape == (3, 10)


def test_classify_is_batch_size_independent_and_consistent_with_forward():
    images = np.random.default_rng(2).integers(0, 256, size=(37, 784))
    probs, features = classify(images, batch_size=1000)
    probs_small, features_small = classify(images, batch_size=8)
    np.testing.assert_allclose(probs_small, probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(features_small, features, rtol=1e-5, atol=1e-5)
    assert probs.dtype == np.float64 and features.shape == (37, FEATURE_DIM) and (features >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    with torch.no_grad():
        expected = torch.softmax(load_lenet()(preprocess(images)).double(), dim=1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)


def test_a_model_in_training_mode_is_evaluated_deterministically_and_left_as_it_was():
    model = LeNet()
    model.train()
    images = np.random.default_rng(3).integers(0, 256, size=(10, 784))
    np.testing.assert_array_equal(predict_proba(images, model), predict_proba(images, model))
    assert model.training


def test_real_test_set_accuracy(mnist_test, mnist_test_outputs):
    """>= 99.0% on the 10,000 real MNIST test images, as recorded next to the weights."""
    accuracy = float((mnist_test_outputs[0].argmax(axis=1) == mnist_test.labels).mean())
    assert accuracy >= 0.99
    record = json.loads(default_weights_path().with_suffix(".json").read_text())
    assert accuracy == pytest.approx(record["test_accuracy"], abs=2e-4)
