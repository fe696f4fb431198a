"""The trained generator as one torch module from physical inputs to physical outputs, the
reference it is checked against, and what makes a generator impossible to export."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hepgan.errors import ConfigError, DataError
from hepgan.export.module import (
    PhysicalGenerator,
    check_batch_independent,
    input_arrays,
    layout_network,
    reference_forward,
)
from tests.export.conftest import make_generator, make_image_generator


def test_the_physical_module_reproduces_the_trained_generator(fixed_inputs):
    gen = make_generator(preprocessing=({"type": "EnergyNormalize"}, {"type": "LogTransform"}, {"type": "Standardize"}),
                         generator="CONCAT, DENSE|16|SWISH, DENSE|266|LINEAR")
    z, conditions = fixed_inputs(gen)
    module = PhysicalGenerator(gen)
    assert module.input_names == ["z", "energy", "impact_eta", "alignment"]
    with torch.no_grad():
        actual = module(*module.example_inputs(z, conditions)).numpy()
    expected = reference_forward(gen, z, conditions)
    assert actual.dtype == np.float32 and actual.shape == (5, 266)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_reference_forward_is_trained_generator_generate(fixed_inputs):
    gen = make_generator()
    _, conditions = fixed_inputs(gen, n=6)
    z = torch.randn(6, gen.latent_dim, generator=torch.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(reference_forward(gen, z, conditions), gen.generate(conditions, seed=3))


def test_the_image_module_takes_class_labels_and_gives_0_255_images():
    gen = make_image_generator("CONCAT, DENSE|16|RELU, DENSE|784|TANH, RESHAPE|1|28|28")
    module = PhysicalGenerator(gen)
    assert module.input_names == ["z", "label"] and module.output_name == "images"
    z = np.random.default_rng(0).standard_normal((4, gen.latent_dim)).astype(np.float32)
    labels = np.array([0, 3, 9, 3])
    with torch.no_grad():
        images = module(*module.example_inputs(z, {}, labels)).numpy()
    np.testing.assert_allclose(images, reference_forward(gen, z, labels=labels), rtol=1e-5, atol=1e-4)
    assert images.shape == (4, 1, 28, 28) and images.min() >= 0 and images.max() <= 255
    with torch.no_grad():  # the label matters
        relabelled = module(*module.example_inputs(z, {}, np.array([1, 3, 9, 3]))).numpy()
    assert not np.allclose(images[0], relabelled[0]) and np.array_equal(images[1:], relabelled[1:])


def test_inputs_are_named_shaped_and_typed_and_missing_ones_are_named():
    z = np.zeros((3, 4), np.float64)
    conditions = {"energy": [1e3, 2e3, 4e3], "alignment": np.eye(6)[:3], "unused": [0, 0, 0]}
    arrays = input_arrays(["energy", "alignment"], 10, z, conditions, labels=[1, 2, 3])
    assert list(arrays) == ["z", "energy", "alignment", "label"]
    assert [a.shape for a in arrays.values()] == [(3, 4), (3, 1), (3, 6), (3,)]
    assert [a.dtype for a in arrays.values()] == [np.float32, np.float32, np.float32, np.int64]
    with pytest.raises(DataError, match=r"condition 'impact_eta' is missing; have \['alignment', 'energy', 'unused'\]"):
        input_arrays(["energy", "impact_eta"], 0, z, conditions)
    with pytest.raises(DataError, match="class-conditional: labels are required"):
        input_arrays([], 10, z, None)


def test_preprocessing_that_needs_the_energy_needs_an_energy_condition():
    gen = make_generator(conditions=("impact_eta",))  # EnergyNormalize, but no energy among the inputs
    with pytest.raises(ConfigError, match="preprocessing needs the incident energy but the generator is not "
                                          "conditioned on it"):
        PhysicalGenerator(gen)


def test_a_generator_without_a_layout_network_or_with_an_unset_reference_batch_is_refused():
    with pytest.raises(ConfigError, match=r"the generator \(Linear\) has no layout network"):
        layout_network(SimpleNamespace(network=torch.nn.Linear(2, 2)))
    gen = make_generator("CONCAT, DENSE|16|LINEAR, VBN, ACT|RELU, DENSE|266|SOFTPLUS")
    with pytest.raises(ConfigError, match=r"generator layer 2 \(VBN\) makes each output depend on the rest"):
        check_batch_independent(gen)  # without a reference batch, VBN normalises by the batch itself
    z, cond = torch.randn(32, gen.latent_dim), torch.randn(32, gen.encoder.dim)
    gen.network.set_reference_batch(z, cond)
    check_batch_independent(gen)  # with one, each output is the network's own
