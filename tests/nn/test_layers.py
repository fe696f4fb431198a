"""The custom modules, each on its defining property."""

from __future__ import annotations

import pytest
import torch

from hepgan.errors import HepganError
from hepgan.nn.layers import (
    ClassEmbedding, ConcatCondition, Exp, Gauss, MinibatchStd, Swish, SymmReLU, VirtualBatchNorm,
)


def test_elementwise_activations():
    x = torch.tensor([-2.0, 0.0, 1.5])
    assert torch.equal(SymmReLU()(x), x.abs())
    assert torch.allclose(Gauss()(x), torch.exp(-x * x))
    assert torch.allclose(Exp()(x), torch.exp(x))


def test_swish_beta_is_trainable_and_gets_a_gradient():
    swish = Swish()
    assert isinstance(swish.beta, torch.nn.Parameter) and swish.beta.requires_grad
    assert float(swish.beta.detach()) == 1.0
    x = torch.linspace(-3, 3, 11)
    assert torch.allclose(swish(x), x * torch.sigmoid(x))
    swish(x).pow(2).sum().backward()
    assert swish.beta.grad is not None and float(swish.beta.grad.abs()) > 0
    assert [name for name, _ in swish.named_parameters()] == ["beta"]


@pytest.mark.parametrize("shape", [(16, 5), (16, 3, 4, 4)])
def test_vbn_before_reference_is_batch_norm_of_the_current_batch(shape):
    torch.manual_seed(0)
    x = torch.randn(shape) * 3 + 1
    vbn = VirtualBatchNorm(shape[1])
    reference = torch.nn.BatchNorm1d(shape[1]) if len(shape) == 2 else torch.nn.BatchNorm2d(shape[1])
    assert not vbn.has_reference
    assert torch.allclose(vbn(x), reference.train()(x), atol=1e-5)
    vbn.eval()  # no running statistics: still the batch's own
    assert torch.allclose(vbn(x), reference.train()(x), atol=1e-5)


@pytest.mark.parametrize("shape", [(8, 5), (8, 3, 4, 4)])
def test_vbn_with_reference_is_independent_of_the_rest_of_the_batch(shape):
    torch.manual_seed(1)
    vbn = VirtualBatchNorm(shape[1])
    normalised_ref = vbn.set_reference(torch.randn(32, *shape[1:]) * 2 + 5)
    assert vbn.has_reference and int(vbn.ref_count) == 32
    dims = (0,) if len(shape) == 2 else (0, 2, 3)
    assert torch.allclose(normalised_ref.mean(dims), torch.zeros(shape[1]), atol=1e-5)
    x = torch.randn(shape)
    other = x.clone()
    other[1:] = torch.randn(shape[0] - 1, *shape[1:]) * 10
    assert torch.equal(vbn(x)[0], vbn(other)[0])
    assert torch.equal(vbn(x[:1])[0], vbn(x)[0])


def test_vbn_reference_survives_a_state_dict_round_trip():
    vbn = VirtualBatchNorm(4)
    vbn.set_reference(torch.randn(10, 4))
    fresh = VirtualBatchNorm(4)
    fresh.load_state_dict(vbn.state_dict())
    x = torch.randn(3, 4)
    assert fresh.has_reference and torch.equal(fresh(x), vbn(x))


def test_minibatch_std_appends_one_feature_or_channel():
    x = torch.randn(6, 5)
    out = MinibatchStd()(x)
    assert out.shape == (6, 6) and torch.equal(out[:, :5], x)
    expected = x.var(0, unbiased=False).add(1e-8).sqrt().mean()
    assert torch.allclose(out[:, 5], expected.expand(6))
    image = torch.randn(4, 3, 5, 5)
    out = MinibatchStd()(image)
    assert out.shape == (4, 4, 5, 5) and torch.equal(out[:, :3], image)
    assert torch.allclose(out[:, 3], out[0, 3, 0, 0].expand(4, 5, 5))


def test_minibatch_std_groups():
    x = torch.cat([torch.zeros(2, 3), torch.randn(2, 3)])
    out = MinibatchStd(group=2)(x)
    assert torch.allclose(out[:2, 3], torch.full((2,), 1e-4))
    assert float(out[2, 3]) > 1e-3
    assert MinibatchStd(group=4)(torch.randn(5, 3)).shape == (5, 4)  # last group smaller


def test_concat_condition_flat_and_image():
    cond = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = ConcatCondition(2)(torch.zeros(2, 3), cond)
    assert torch.equal(out, torch.tensor([[0.0, 0, 0, 1, 2], [0, 0, 0, 3, 4]]))
    out = ConcatCondition(2)(torch.zeros(2, 1, 3, 3), cond)
    assert out.shape == (2, 3, 3, 3)
    assert torch.equal(out[1, 2], torch.full((3, 3), 4.0))
    with pytest.raises(HepganError, match="pass the condition"):
        ConcatCondition(2)(torch.zeros(2, 3), None)
    with pytest.raises(HepganError, match=r"shape \(2, 2\)"):
        ConcatCondition(2)(torch.zeros(2, 3), torch.zeros(2, 3))


def test_class_embedding():
    embed = ClassEmbedding(10, 4)
    out = embed(torch.tensor([[3.0], [3.0], [7.0]]))
    assert out.shape == (3, 4) and torch.equal(out[0], out[1]) and not torch.equal(out[0], out[2])
    assert torch.equal(embed(torch.tensor([[7]])), out[2:])
    with pytest.raises(HepganError, match="out of range"):
        embed(torch.tensor([[10.0]]))
    with pytest.raises(HepganError, match="whole-number"):
        embed(torch.tensor([[1.5]]))
