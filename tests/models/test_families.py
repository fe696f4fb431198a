"""Every GAN family trains end to end on small real data: finite losses, weights that move."""

import json

import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.models import build_model, list_families
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from tests.helpers import image_config, shower_config
from tests.models._helpers import CONV_CD, CONV_D, CONV_G, MLP_D, MLP_G

CASES = {
    "gan": (MLP_G, MLP_D, {}),
    "dcgan": (CONV_G, CONV_D, {}),
    "cgan": (MLP_G, MLP_D, {"label_smoothing": 0.1}),
    "cgan-conv": (CONV_G.replace("DENSE|392", "CONCAT, DENSE|392"), CONV_CD, {"instance_noise": 0.05}),
    "cgan_mbl": (MLP_G, MLP_D, {"noise_injection": 0.1, "mbl_features": 8}),
    "wgan_gp": (MLP_G, MLP_D.replace("SIGMOID", "LINEAR"), {"init": "glorot"}),
    "cwgan_gp": (MLP_G, MLP_D.replace("SIGMOID", "LINEAR"), {}),
}


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items() if v.dtype.is_floating_point}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_image_family_takes_real_steps(tmp_path, mnist_dir, case):
    family = case.split("-")[0]
    g, d, extra = CASES[case]
    optim = {"name": "rmsprop", "lr_g": 1e-4, "lr_d": 1e-4, "weight_decay": 1e-5} if family == "wgan_gp" else {}
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, family, g, d, model=extra,
                                            **({"optim": optim} if optim else {})))
    trainer = Trainer(config)
    before = _weights(trainer.model)
    trainer.fit()
    after = _weights(trainer.model)
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("generator.") for k in moved) and any(k.startswith("critics.") for k in moved)
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert len(records) == 3
    for record in records:
        assert all(torch.isfinite(torch.tensor(v)) for k, v in record.items() if k != "step")
    sample = trainer.generate(trainer.data.train.cond[:4] if trainer.data.cond_dim else None, 4)
    assert sample.shape == (4, 1, 28, 28) and sample.abs().max() <= 1.0


def test_conditional_shower_wgan_with_a_summary_critic_and_ema(tmp_path, shower_file):
    config = load_train_config(shower_config(
        tmp_path / "run", shower_file,
        model={"summary_critic": {"gp_weight": 0.1}},
        schedule={"steps": 4, "batch_size": 32, "n_critic": 2, "ema_decay": 0.9, "gen_conditions": "chunk"}))
    trainer = Trainer(config)
    assert set(trainer.model.critics) == {"critic", "summary"}
    before = _weights(trainer.model)
    ema_before = {k: v.clone() for k, v in trainer.ema.state_dict().items()}
    trainer.fit()
    after = _weights(trainer.model)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("critics.summary."))
    assert any(not torch.equal(ema_before[k], v) for k, v in trainer.ema.state_dict().items())
    log = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert all("wasserstein_summary" in r and "gp" in r for r in log)


def test_every_family_is_registered_and_conditional_ones_need_conditions():
    assert set(list_families()) >= {"gan", "dcgan", "cgan", "cgan_mbl", "cgan_proj", "wgan_gp", "cwgan_gp"}
    with pytest.raises(ConfigError, match="is conditional"):
        build_model(ModelConfig(family="cgan", generator=MLP_G, critic=MLP_D), (1, 28, 28), cond_dim=0)
    with pytest.raises(ConfigError, match="the layout produces"):
        build_model(ModelConfig(family="gan", generator="DENSE|10|TANH", critic=MLP_D), (1, 28, 28), cond_dim=0)
    with pytest.raises(ConfigError, match="needs a CONCAT layer"):
        build_model(ModelConfig(family="cgan", generator=MLP_G, critic=CONV_D), (1, 28, 28), cond_dim=10)


@pytest.mark.parametrize("family, option", [
    ("cgan_proj", {"mismatch_weight": 1.0}),
    ("cwgan_gp", {"mismatch_weight": 1.0}),
    ("cgan", {"projection": {"spectral_norm": True}}),
    ("cgan", {"calo": {"cell_noise": 0.1}}),
    ("cgan", {"mbl_features": 8}),
    ("cgan", {"gp_every": 2}),
])
def test_an_option_the_family_would_ignore_is_refused(family, option):
    name = next(iter(option))
    with pytest.raises(ConfigError, match=rf"model\.{name} is read only by the families .*'{family}' would ignore it"):
        build_model(ModelConfig(family=family, generator=MLP_G, critic=MLP_D, **option), (1, 28, 28), cond_dim=10)
    # the families that read it accept it; defaults never trip the check (saved run configs list them)
    build_model(ModelConfig(family="cgan_mbl", generator=MLP_G, critic=MLP_D, mismatch_weight=1.0, mbl_features=8),
                (1, 28, 28), cond_dim=10)
    build_model(ModelConfig(family=family, generator=MLP_G, critic=MLP_D,
                            **{name: ModelConfig.model_fields[name].default}), (1, 28, 28), cond_dim=10)
