"""The check every export runs: a fixed batch spanning the trained range, and the exported model's
output within 1e-5 of the largest torch output or no file."""

import numpy as np
import pytest

from hepgan.errors import ConfigError
from hepgan.export.info import info_from_generator
from hepgan.export.verify import BATCH, TOLERANCE, compare, verification_batch
from tests.export.conftest import make_generator, make_image_generator


def test_the_batch_spans_the_trained_energies_and_is_fixed_by_the_seed():
    info = info_from_generator(make_generator())  # trained on 2-32 GeV
    z, conditions, labels = verification_batch(info)
    assert z.shape == (BATCH, info.latent_dim) and z.dtype == np.float32 and labels is None
    assert BATCH == 7  # not the traced batch size: dynamic batching is exercised
    np.testing.assert_allclose(conditions["energy"], np.geomspace(2000.0, 32000.0, 7))
    assert conditions["alignment"].shape == (7, 6) and 0.2 <= conditions["impact_eta"].min()
    again, _, _ = verification_batch(info)
    other, _, _ = verification_batch(info, seed=1)
    assert np.array_equal(z, again) and not np.array_equal(z, other)


def test_without_a_trained_range_the_energies_come_from_the_encoder():
    info = info_from_generator(make_generator())
    info.trained_range = {}
    i = info.condition_names.index("energy")
    mean, std = info.encoder["mean"][i], info.encoder["std"][i]  # of ln E on the training data
    _, conditions, _ = verification_batch(info, n=5)
    np.testing.assert_allclose(np.log(conditions["energy"]), mean + std * np.linspace(-1.5, 1.5, 5))


def test_image_batches_cycle_through_the_classes():
    info = info_from_generator(make_image_generator("CONCAT, DENSE|16|RELU, DENSE|784|TANH, RESHAPE|1|28|28"))
    z, conditions, labels = verification_batch(info, n=12)
    assert conditions == {} and labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_outputs_must_agree_to_the_tolerance_of_the_largest_value():
    expected = np.array([[100.0, 0.0], [3.0, -50.0]])
    stats = compare(expected + 0.5 * TOLERANCE * 100.0, expected, "onnx")
    assert stats["max_abs_output"] == 100.0 and stats["relative"] == pytest.approx(0.5 * TOLERANCE)
    assert stats["batch"] == 2 and stats["tolerance"] == TOLERANCE
    off = expected.copy()
    off[1, 0] += 2 * TOLERANCE * 100.0  # twice the tolerance of the largest output (100)
    with pytest.raises(ConfigError, match=r"onnx differs from torch by 0.002 .*not writing an export"):
        compare(off, expected, "onnx")
    with pytest.raises(ConfigError, match="differs from torch"):
        compare(np.where(expected == 0, np.nan, expected), expected, "lwtnn")
    with pytest.raises(ConfigError, match=r"output shape \(2, 3\) differs from torch's \(2, 2\)"):
        compare(np.zeros((2, 3)), expected, "lwtnn")
    assert compare(np.zeros((0, 2)), np.zeros((0, 2)), "empty")["relative"] == 0.0
