"""The trainer on real (small) data: logs, checkpoints, resume, NaN guard, best-checkpoint choice."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from hepgan.errors import ConfigError
from hepgan.train import Callback, Trainer, TrainingError, load_train_config
from hepgan.train import trainer as trainer_module
from hepgan.train.outcome import read_outcome
from hepgan.train.trainer import Estimate
from hepgan.train.checkpoint import load_checkpoint, save_checkpoint
from tests.helpers import shower_config


def _params(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_training_writes_logs_config_and_checkpoints(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file))
    before = _params(Trainer(config))
    trainer = Trainer(config)
    result = trainer.fit()
    assert result.steps == 6
    after = _params(trainer)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(torch.isfinite(torch.tensor(r["loss_g"])) and "loss_d" in r for r in records)
    assert yaml.safe_load((tmp_path / "run/config.yaml").read_text())["schedule"]["steps"] == 6
    ckpt = tmp_path / "run/checkpoints"
    assert sorted(p.name for p in ckpt.glob("step-*.pt")) == ["step-000000003.pt", "step-000000006.pt"]
    state = load_checkpoint(ckpt / "last.pt")
    assert state["step"] == 6 and state["geometry"] == "atlas266" and state["family"] == "cwgan_gp"
    assert json.loads(state["preprocessing"])["stages"][0]["type"] == "EnergyNormalize"
    with pytest.raises(ConfigError, match="already holds a run"):
        Trainer(config).fit()


def test_a_finished_run_extends_bit_exactly_and_refuses_a_changed_config(tmp_path, shower_file):
    straight = Trainer(load_train_config(shower_config(tmp_path / "a", shower_file, schedule={"steps": 9})))
    straight.fit()
    first = Trainer(load_train_config(shower_config(tmp_path / "b", shower_file, schedule={"steps": 6})))
    first.fit()
    longer = Trainer(load_train_config(shower_config(tmp_path / "b", shower_file, schedule={"steps": 9})))
    longer.fit(resume=True)  # a finished run extended with more steps
    _assert_same(_params(straight), _params(longer))
    changed = Trainer(load_train_config(shower_config(tmp_path / "b", shower_file, optim={"lr_g": 0.5})))
    with pytest.raises(ConfigError, match="different config"):
        changed.fit(resume=True)


def test_a_run_from_before_a_config_field_was_added_still_resumes(tmp_path, shower_file):
    """A checkpoint of an older version: its config lacks a field added since (here
    model.calo.calibrate_layers), so its stored fingerprint differs; at the field's default it is
    the same training, and resumes."""
    Trainer(load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 6}))).fit()
    last = tmp_path / "run/checkpoints/last.pt"
    state = load_checkpoint(last)
    config = json.loads(state["config"])
    del config["model"]["calo"]["calibrate_layers"]
    state["config"], state["fingerprint"] = json.dumps(config), "0123456789abcdef"
    save_checkpoint(last, state)
    longer = Trainer(load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 9})))
    longer.fit(resume=True)
    assert longer.step == 9
    config["model"]["calo"]["moment_weight"] = 3.0  # a real change is still refused
    state["config"] = json.dumps(config)
    save_checkpoint(last, state)
    with pytest.raises(ConfigError, match="different config"):
        Trainer(load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 12}))).fit(resume=True)


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, shower_file):
    steps = 400
    reference = Trainer(load_train_config(shower_config(tmp_path / "ref", shower_file, schedule={"steps": steps})))
    reference.fit()
    config_file = tmp_path / "killed.yaml"
    config = shower_config(tmp_path / "killed", shower_file, schedule={"steps": steps}, checkpoint={"every": 2, "keep_last": 2})
    config_file.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([sys.executable, "-m", "hepgan", "train", str(config_file), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = tmp_path / "killed/checkpoints/last.pt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if last.exists() and load_checkpoint(last)["step"] >= 6:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(last)["step"]
    resumed = Trainer(load_train_config(config_file))
    resumed.fit(resume=True)
    assert resumed.step == steps
    _assert_same(_params(reference), _params(resumed))
    assert 6 <= killed_at < steps  # it really was killed mid-run
    steps_logged = [json.loads(line)["step"] for line in (tmp_path / "killed/metrics.jsonl").read_text().splitlines()]
    assert steps_logged == sorted(set(steps_logged))  # no step logged twice after the resume


def test_resume_in_process_matches_straight_training(tmp_path, shower_file):
    straight = Trainer(load_train_config(shower_config(tmp_path / "a", shower_file, schedule={"steps": 8})))
    straight.fit()

    class StopAt(Callback):
        def on_step_end(self, trainer, step, logs):
            if step == 5:
                raise KeyboardInterrupt

    config = load_train_config(shower_config(tmp_path / "b", shower_file, schedule={"steps": 8}))
    with pytest.raises(KeyboardInterrupt):
        Trainer(config, callbacks=[StopAt()]).fit()
    assert load_checkpoint(tmp_path / "b/checkpoints/last.pt")["step"] == 3
    resumed = Trainer(config)
    resumed.fit(resume=True)
    _assert_same(_params(straight), _params(resumed))


def test_nan_losses_restore_the_last_good_state_with_a_lower_learning_rate(tmp_path, shower_file):
    class PoisonOnce(Callback):
        done = False

        def on_step_end(self, trainer, step, logs):
            if step == 4 and not self.done:
                self.done = True
                with torch.no_grad():
                    next(trainer.model.generator.parameters()).fill_(float("nan"))

    config = load_train_config(shower_config(tmp_path / "run", shower_file, nan={"snapshot_every": 2}))
    trainer = Trainer(config, callbacks=[PoisonOnce()])
    trainer.fit()
    assert trainer.step == 6 and trainer.nan_retries == 1 and trainer.lr_scale == 0.5
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(config.optim.lr_g * 0.5)
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_a_finite_loss_spike_is_restored_like_a_nan(tmp_path, shower_file):
    """A generator can blow up without a NaN (the full recipe's seed 3: critic loss 3 -> 7,700):
    critic weights suddenly 100x larger make such a spike."""
    class BlowUpOnce(Callback):
        done = False

        def on_step_end(self, trainer, step, logs):
            if step == 14 and not self.done:
                self.done = True
                with torch.no_grad():
                    for p in trainer.model.critics.parameters():
                        p.mul_(1e2)

    config = load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 18},
                                             nan={"snapshot_every": 2, "spike_window": 10, "spike_factor": 50}))
    trainer = Trainer(config, callbacks=[BlowUpOnce()])
    trainer.fit()
    assert trainer.step == 18 and trainer.nan_retries == 1 and trainer.lr_scale == 0.5
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_learning_rates_anneal_linearly_to_zero_and_resume_on_schedule(tmp_path, shower_file):
    """lr_decay_from 0.5 of 8 steps: full rates for updates 0-3, then 4/4, 3/4, 2/4, 1/4 of them."""
    class Record(Callback):
        def __init__(self):
            self.lrs = []

        def on_step_end(self, trainer, step, logs):
            self.lrs.append((trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]))

    config = load_train_config(shower_config(tmp_path / "a", shower_file, schedule={"steps": 8, "lr_decay_from": 0.5}))
    record = Record()
    straight = Trainer(config, callbacks=[record])
    straight.fit()
    factors = [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert [g for g, _ in record.lrs] == pytest.approx([config.optim.lr_g * f for f in factors])
    assert [d for _, d in record.lrs] == pytest.approx([config.optim.lr_d * f for f in factors])

    class StopAt(Callback):
        def on_step_end(self, trainer, step, logs):
            if step == 5:
                raise KeyboardInterrupt

    config_b = load_train_config(shower_config(tmp_path / "b", shower_file, schedule={"steps": 8, "lr_decay_from": 0.5}))
    with pytest.raises(KeyboardInterrupt):
        Trainer(config_b, callbacks=[StopAt()]).fit()
    resumed = Trainer(config_b)
    resumed.fit(resume=True)  # the annealing follows the step, not the process: same weights as straight through
    _assert_same(_params(straight), _params(resumed))


def test_nan_policy_stop_gives_a_clear_error_and_no_poisoned_checkpoint(tmp_path, shower_file):
    class Poison(Callback):
        def on_step_end(self, trainer, step, logs):
            if step == 2:
                with torch.no_grad():
                    next(trainer.model.critics.parameters()).fill_(float("inf"))

    config = load_train_config(shower_config(tmp_path / "run", shower_file, nan={"policy": "stop"}))
    with pytest.raises(TrainingError, match="non-finite losses"):
        Trainer(config, callbacks=[Poison()]).fit()
    assert not (tmp_path / "run/checkpoints/last.pt").exists()


def test_best_checkpoint_follows_the_validation_metric(tmp_path, shower_file):
    config = load_train_config(shower_config(
        tmp_path / "run", shower_file, schedule={"steps": 8},
        eval={"every": 2, "metrics": ["response"], "select": "response_error", "n_generated": 200},
        checkpoint={"every": 100, "keep_last": 10}))
    trainer = Trainer(config)
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    validations = [(r["step"], r["validation"]["response_error"]) for r in records if "validation" in r]
    assert [s for s, _ in validations] == [2, 4, 6, 8]
    best_step, best_value = min(validations, key=lambda sv: sv[1])
    assert trainer.best == {"metric": "response_error", "value": best_value, "step": best_step}
    assert load_checkpoint(tmp_path / "run/checkpoints/best.pt")["step"] == best_step


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file))
    with pytest.raises(ConfigError, match="nothing to resume"):
        Trainer(config).fit(resume=True)


def test_batch_larger_than_the_data_is_rejected(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"batch_size": 100_000}))
    with pytest.raises(ConfigError, match="exceeds the"):
        Trainer(config)


def test_sample_sets_and_tensorboard_are_written(tmp_path, shower_file):
    pytest.importorskip("torch.utils.tensorboard", reason="tensorboard is not installed")
    config = load_train_config(shower_config(tmp_path / "run", shower_file,
                                             log={"every": 2, "progress": False, "samples_every": 3, "n_samples": 20,
                                                  "tensorboard": True}))
    Trainer(config).fit()
    samples = sorted((tmp_path / "run/samples").iterdir())
    assert [p.name for p in samples] == ["step-000000003.npz", "step-000000003.png", "step-000000006.npz",
                                         "step-000000006.png"]
    import numpy as np

    with np.load(samples[0]) as f:
        assert f["generated"].shape == (20, 266) and f["reference"].shape == (20, 266)
        assert (f["generated"] >= 0).all() and "cond_energy" in f
    assert samples[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any((tmp_path / "run/tensorboard").iterdir())


def test_a_time_budget_stops_training_early_with_a_checkpoint(tmp_path, shower_file, capsys):
    config = load_train_config(shower_config(tmp_path / "run", shower_file,
                                             schedule={"steps": 10_000, "time_limit_s": 1e-6}))
    result = Trainer(config).fit()
    assert result.steps == 1  # one step, then the budget is spent
    assert result.cut_short and result.planned == 10_000
    assert load_checkpoint(tmp_path / "run/checkpoints/last.pt")["step"] == 1
    outcome = read_outcome(tmp_path / "run")
    assert outcome["steps"] == 1 and outcome["planned"] == 10_000 and outcome["cut_short"]
    assert "cut short by schedule.time_limit_s" in capsys.readouterr().out  # said, not only written
    extended = load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 3}))
    result = Trainer(extended).fit(resume=True)
    assert result.steps == 3 and not result.cut_short  # the budget is not part of the run's identity
    assert result.trained == 2
    assert read_outcome(tmp_path / "run")["cut_short"] is False and read_outcome(tmp_path / "run")["trained"] == 2


def test_a_run_cut_short_before_its_first_validation_still_validates_and_selects(tmp_path, shower_file):
    config = load_train_config(shower_config(
        tmp_path / "run", shower_file, schedule={"steps": 10_000, "time_limit_s": 1e-6},
        eval={"every": 2000, "metrics": ["response"], "select": "response_error", "n_generated": 200}))
    trainer = Trainer(config)
    trainer.fit()
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "validation" in r] == [1]
    assert trainer.best["step"] == 1 and load_checkpoint(tmp_path / "run/checkpoints/best.pt")["step"] == 1


def test_a_full_run_validates_its_last_step_too(tmp_path, shower_file):
    config = load_train_config(shower_config(
        tmp_path / "run", shower_file, schedule={"steps": 5},
        eval={"every": 2, "metrics": ["response"], "select": "response_error", "n_generated": 200}))
    Trainer(config).fit()
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "validation" in r] == [2, 4, 5]


def test_the_first_steps_give_an_estimate_and_a_warning_when_the_guard_would_cut(tmp_path, shower_file, monkeypatch,
                                                                               capsys):
    monkeypatch.setattr(trainer_module, "ESTIMATE_WARMUP", 1)
    monkeypatch.setattr(trainer_module, "ESTIMATE_STEPS", 2)
    monkeypatch.setattr(trainer_module, "ESTIMATE_SECONDS", 0.0)
    seen = []

    class Listen(Callback):
        def on_estimate(self, trainer, estimate):
            seen.append((trainer.step, estimate))

    config = load_train_config(shower_config(tmp_path / "run", shower_file,
                                             schedule={"steps": 10_000, "time_limit_s": 2.0}))
    Trainer(config, callbacks=[Listen()]).fit()
    (step, estimate), = seen  # once
    assert step == 3 and estimate.planned == 10_000 and estimate.steps_per_s > 0
    assert estimate.remaining_s == pytest.approx((10_000 - 3) / estimate.steps_per_s)
    out = capsys.readouterr().out
    assert "steps/s; 10,000 steps take about" in out
    if estimate.cut_short:  # (10,000 steps in 2 s would need a very fast machine)
        assert "warning: that is past schedule.time_limit_s" in out and "--set schedule.steps=" in out
    outcome = read_outcome(tmp_path / "run")
    assert outcome["steps_per_s"] == pytest.approx(outcome["trained"] / outcome["seconds"], rel=0.05)


def test_an_estimate_past_the_guard_says_where_the_run_would_stop_and_what_to_do():
    estimate = Estimate(steps_per_s=4.0, elapsed_s=10.0, remaining_s=990.0, planned=4000, time_limit_s=600.0)
    assert estimate.cut_short and estimate.steps_within_limit() == 2400
    text = estimate.describe()
    assert "4.00 steps/s; 4,000 steps take about 16.7 min" in text
    assert "stop near step 2,400 of 4,000" in text and "--set schedule.steps=2400" in text
    assert "--set schedule.time_limit_s=1200" in text
    assert "warning" not in Estimate(4.0, 10.0, 990.0, 4000, None).describe()


def test_the_window_alignment_can_be_a_condition(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file,
                                             data={"conditions": ["energy", "impact_eta", "alignment"]}))
    trainer = Trainer(config)
    assert trainer.data.cond_dim == 2 + 6  # two standardised values + the 2 + 4 alignment two-hot
    alignment = trainer.data.train.cond[:, 2:]
    assert torch.equal(alignment.sum(1), torch.full((len(alignment),), 2.0))
    trainer.fit()


def test_the_impact_offset_in_the_hit_cell_can_be_a_condition(tmp_path, shower_file):
    config = load_train_config(shower_config(tmp_path / "run", shower_file,
                                             data={"conditions": ["energy", "impact_offset"]}))
    trainer = Trainer(config)
    offset = trainer.data.train.cond[:, 1:]
    assert offset.shape[1] == 2 and offset.abs().max() <= 0.5  # passed through unscaled
    trainer.fit()
