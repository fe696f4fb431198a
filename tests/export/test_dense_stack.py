"""lwtnn's sequential layers in NumPy: each activation, normalization, shape checks, refusals."""

import numpy as np
import pytest
import torch

from hepgan.errors import DataError
from hepgan.export.dense_stack import DenseStack


@pytest.mark.parametrize(("activation", "torch_function"), [
    ("linear", lambda x: x), ("rectified", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
    ({"function": "leakyrelu", "alpha": 0.1}, lambda x: torch.nn.functional.leaky_relu(x, 0.1)),
    ({"function": "elu", "alpha": 0.7}, lambda x: torch.nn.functional.elu(x, 0.7)),
    ({"function": "swish", "alpha": 1.5}, lambda x: x * torch.sigmoid(1.5 * x)),
])
def test_a_dense_layer_with_each_activation_matches_torch(activation, torch_function):
    rng = np.random.default_rng(0)
    w, b, x = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(5, 3)) * 3
    stack = DenseStack([{"architecture": "dense", "weights": w.reshape(-1).tolist(), "bias": b.tolist(),
                         "activation": activation}], "g.json")
    expected = torch_function(torch.from_numpy(x @ w.T + b).float()).numpy()
    np.testing.assert_allclose(stack(x.astype(np.float32)), expected, rtol=1e-5, atol=1e-6)
    assert stack.output_width(3) == 4


def test_normalization_and_an_activation_only_layer():
    stack = DenseStack([{"architecture": "normalization", "weights": [2.0, 0.5], "bias": [1.0, -1.0]},
                        {"architecture": "dense", "weights": [], "bias": [], "activation": "rectified"}], "g.json")
    np.testing.assert_allclose(stack(np.array([[0.0, 0.0], [-3.0, 5.0]], np.float32)), [[2.0, 0.0], [0.0, 2.0]])


@pytest.mark.parametrize(("layers", "message"), [
    ([{"architecture": "conv2d"}], "layer 0: architecture 'conv2d' is not supported"),
    ([{"architecture": "dense", "weights": [1.0] * 5, "bias": [0.0, 0.0], "activation": "linear"}],
     "layer 0: 5 weights do not fit 2 biases"),
    ([{"architecture": "dense", "weights": [1.0] * 4, "bias": [0.0] * 2, "activation": "mish"}],
     "layer 0: activation 'mish' is not supported"),
    ("dense", "'layers' must be a list"),
])
def test_malformed_layers_are_refused_by_index(layers, message):
    with pytest.raises(DataError, match=message):
        DenseStack(layers, "g.json")


def test_a_layer_that_does_not_fit_the_previous_one_is_named():
    stack = DenseStack([{"architecture": "dense", "weights": [1.0] * 6, "bias": [0.0] * 2, "activation": "linear"}],
                       "g.json")
    with pytest.raises(DataError, match="layer 0: weights take 3 inputs but the previous layer gives 4"):
        stack.output_width(4)
