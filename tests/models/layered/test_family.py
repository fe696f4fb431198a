"""The layered family as a whole: the critic's view of a shower and the geometries it accepts."""

import pytest

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models import build_model
from hepgan.models.config import ModelConfig
from tests.models.layered._helpers import fitted as _fitted


def test_critic_sees_energies_and_cells_and_its_gradient_penalty_runs():
    model, x, cond, _ = _fitted("calochallenge-1-photons")
    g = get_geometry("calochallenge-1-photons")
    view = model.clean_view(x[:16], cond[:16])
    assert view.shape == (16, len(g.layers) + 1 + len(g.layers) * max(g.layer_sizes))
    loss, logs = model.critic_loss(x[:16], cond[:16])
    loss.backward()
    assert {"wasserstein", "gp", "loss_d"} <= set(logs)
    assert all(p.grad is not None for p in model.critics.parameters())


def test_refuses_a_geometry_mismatch_and_a_second_summary_critic():
    with pytest.raises(ConfigError, match="368 cells"):
        build_model(ModelConfig(family="layered_wgan"), (100,), 1, "calochallenge-1-photons")
    with pytest.raises(ConfigError, match="own whole-shower critic"):
        build_model(ModelConfig(family="layered_wgan", summary_critic={}), (368,), 1, "calochallenge-1-photons")
