"""Every GAN family trains end to end on small real data: finite losses, weights that move."""

import json

import pytest
import torch

from hepgan.errors import ConfigError
from hepgan.models import build_model, list_families
from hepgan.models.config import ModelConfig
from hepgan.train import Trainer, load_train_config
from tests.helpers import image_config, shower_config

MLP_G = "DENSE|64|RELU, DENSE|784|TANH, RESHAPE|1|28|28"
MLP_D = "DENSE|64|LEAKYRELU, DROPOUT|0.25, DENSE|1|SIGMOID"
CONV_G = "DENSE|392|RELU, RESHAPE|8|7|7, UPSAMPLE|2, CONV|8|3|3|1|1|1|1|RELU, UPSAMPLE|2, CONV|1|3|3|1|1|1|1|TANH"
CONV_D = "CONV|8|3|3|2|2|1|1|LEAKYRELU, DENSE|1|SIGMOID"
CONV_CD = "CONCAT, CONV|8|3|3|2|2|1|1|LEAKYRELU, DENSE|1|SIGMOID"

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


def test_summary_critic_gradient_penalty_does_not_flow_through_the_sums(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model={"summary_critic": {"gp_weight": 1.0}}))
    model = Trainer(config).model
    x = torch.rand(8, 266, requires_grad=True)
    from hepgan.models.losses import gradient_penalty

    s = model.summaries(x)
    gp = gradient_penalty(model.critics["summary"], s.detach(), s, torch.zeros(8, 2))
    gp.backward()
    assert x.grad is None  # the penalty treats the sums as independent inputs
    loss = -model.critics["summary"](model.summaries(x), torch.zeros(8, 2)).mean()
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the generator still learns through them


def test_every_family_is_registered_and_conditional_ones_need_conditions():
    assert set(list_families()) >= {"gan", "dcgan", "cgan", "cgan_mbl", "cgan_proj", "wgan_gp", "cwgan_gp"}
    with pytest.raises(ConfigError, match="is conditional"):
        build_model(ModelConfig(family="cgan", generator=MLP_G, critic=MLP_D), (1, 28, 28), cond_dim=0)
    with pytest.raises(ConfigError, match="the layout produces"):
        build_model(ModelConfig(family="gan", generator="DENSE|10|TANH", critic=MLP_D), (1, 28, 28), cond_dim=0)
    with pytest.raises(ConfigError, match="needs a CONCAT layer"):
        build_model(ModelConfig(family="cgan", generator=MLP_G, critic=CONV_D), (1, 28, 28), cond_dim=10)


def test_mbl_assigns_labels_by_mahalanobis_distance(tmp_path, mnist_dir):
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "cgan_mbl", MLP_G, MLP_D, model={"mbl_features": 8}))
    trainer = Trainer(config)
    train = trainer.data.train
    assigned = trainer.model.assign_labels(train.x)
    accuracy = (assigned == train.labels).float().mean()
    assert accuracy > 0.9  # real images sit nearest their own class centre
    trainer.model.assigned.copy_(torch.tensor([0.5] + [0.5 / 9] * 9))
    cond = trainer.model.generator_conditions(train.cond, 2000)
    counts = cond.argmax(1).bincount(minlength=10)
    assert counts[0] < counts[1:].min()  # the over-produced class is asked for least


def test_matching_aware_critic_calls_real_images_under_wrong_labels_fake(tmp_path, mnist_dir):
    """mismatch_weight: a third critic pass on the real images, every label moved to another class,
    scored as fake; and the generator is judged under the labels it was asked for, even in CGAN-MBL
    (whose critic learns fakes under the labels they look like)."""
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "cgan_mbl", MLP_G, MLP_D,
                                            model={"mbl_features": 8, "mismatch_weight": 1.0}))
    trainer = Trainer(config)
    model = trainer.model
    seen = []
    model.critics["critic"].register_forward_hook(lambda module, args, out: seen.append(args[1].argmax(1).clone()))
    model.assign_labels = lambda images: torch.full((len(images),), 7)  # what the fakes "look like"
    real, cond = trainer.data.train.x[:64], trainer.data.train.cond[:64]
    _, logs = model.critic_loss(real, cond)
    truth = cond.argmax(1)
    assert len(seen) == 3 and torch.equal(seen[0], truth) and torch.equal(seen[1], torch.full((64,), 7))
    assert (seen[2] != truth).all() and len(seen[2].unique()) > 1 and "d_wrong" in logs
    requested = torch.nn.functional.one_hot(torch.full((64,), 3), 10).float()
    model.generator_loss(requested, 64)
    assert torch.equal(seen[-1], torch.full((64,), 3))


def test_mismatch_weight_needs_class_labels():
    config = ModelConfig(family="cgan", generator=MLP_G, critic=MLP_D, mismatch_weight=1.0)
    with pytest.raises(ConfigError, match="mismatch_weight.*class labels"):
        build_model(config, (1, 28, 28), cond_dim=1)


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


def test_virtual_batch_norm_uses_a_fixed_reference_batch_refreshed_each_update(tmp_path, mnist_dir):
    vbn_g = "DENSE|392|LINEAR, VBN, ACT|RELU, RESHAPE|8|7|7, UPSAMPLE|4, CONV|1|3|3|1|1|1|1|TANH"
    vbn_d = "CONV|8|3|3|2|2|1|1|LINEAR, VBN, LEAKYRELU|0.2, DENSE|1|SIGMOID"
    config = load_train_config(image_config(tmp_path / "run", mnist_dir, "dcgan", vbn_g, vbn_d))
    trainer = Trainer(config)
    model = trainer.model
    vbns = [m for m in model.modules() if type(m).__name__ == "VirtualBatchNorm"]
    assert model.uses_vbn and len(vbns) == 2 and all(m.has_reference for m in vbns)
    critic_vbn = [m for m in model.critics.modules() if type(m).__name__ == "VirtualBatchNorm"][0]
    before = critic_vbn.ref_mean.clone()
    trainer.fit()
    assert not torch.equal(before, critic_vbn.ref_mean)  # re-computed with the updated weights
    # an example's critic output does not depend on the rest of its batch
    x = trainer.data.train.x[:8]
    critic = model.critics["critic"]
    assert torch.allclose(critic(x)[:2], critic(x[:2]), atol=1e-6)


def test_lazy_gradient_penalty_applies_every_kth_update_k_times_as_strong(tmp_path, shower_file):
    """model.gp_every: the penalised update's loss is the Wasserstein loss plus k x weight x penalty,
    the others carry no penalty; the trainer penalises the last of every k critic updates, counted
    from the step (so a resumed run keeps the rhythm)."""
    model = {"gp_weight": 10.0, "gp_every": 3,
             "summary_critic": {"layout": "DENSE|8|LEAKYRELU, DENSE|1|LINEAR", "gp_weight": 5.0}}
    config = load_train_config(shower_config(tmp_path / "run", shower_file, model=model,
                                             schedule={"steps": 4, "batch_size": 32, "n_critic": 2}))
    trainer = Trainer(config)
    wgan = trainer.model
    real, cond = trainer.data.train.x[:32], trainer.data.train.cond[:32]
    torch.manual_seed(0)
    free, logs_free = wgan.critic_loss(real, cond, penalty=False)
    torch.manual_seed(0)
    lazy, logs_lazy = wgan.critic_loss(real, cond, penalty=True)
    assert "gp" not in logs_free and logs_lazy["gp"] > 0
    assert free.item() == pytest.approx(-logs_free["wasserstein"] - logs_free["wasserstein_summary"], rel=1e-5)
    assert "gp_summary" not in logs_free and logs_lazy["gp_summary"] > 0
    penalties = 3 * 10.0 * logs_lazy["gp"] + 3 * 5.0 * logs_lazy["gp_summary"]  # both lazy: x3
    assert lazy.item() == pytest.approx(free.item() + penalties, rel=1e-5)
    calls = []
    original = wgan.critic_loss
    wgan.critic_loss = lambda real, cond, penalty=True, **views: calls.append(penalty) or original(real, cond, penalty,
                                                                                               **views)
    trainer.fit()
    assert calls == [False, False, True, False, False, True, False, False]  # updates 3 and 6 of 8
