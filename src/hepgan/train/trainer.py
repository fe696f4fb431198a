"""The training loop: schedule, progress, metrics log, validation, checkpoints, resume, NaN guard.

One step is ``n_critic`` critic updates (each on a fresh real batch) followed by ``n_gen``
generator updates with the critics frozen. A run trains ``schedule.steps`` steps, so its model
does not depend on the machine's speed; ``schedule.time_limit_s`` is only a guard, and a run it
stops is marked cut short (``run.json``, the summary and the report say steps done of planned).
After a few steps the trainer estimates when the run ends and says so, with a warning when the
guard would stop it. Everything random comes from the torch generator
seeded by the config (its state is checkpointed) and from per-epoch data permutations that
depend on (seed, epoch) only, so ``resume`` continues bit-exactly on CPU. Under ``torchrun`` each
rank trains on a shard of every batch and only rank 0 writes (:mod:`hepgan.train.distributed`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

from hepgan.data.files import temp_path_for
from hepgan.errors import ConfigError, HepganError
from hepgan.models import build_model
from hepgan.train.callbacks import Callback
from hepgan.train.checkpoint import CheckpointDir, calibrate_checkpoint, load_checkpoint
from hepgan.train.config import TrainConfig, saved_fingerprint
from hepgan.train.data import PreparedData, prepare_data
from hepgan.train.distributed import DataParallel
from hepgan.train.divergence import LossSpikeDetector
from hepgan.train.outcome import Estimate, cut_short_note, outcome_record, write_outcome
from hepgan.train.rng import capture_rng, restore_rng, seed_everything
from hepgan.train.threads import ThreadChoice, choose_threads, use_threads
from hepgan.train.validation import ValidationSamples, validation_metric

ESTIMATE_WARMUP = 5  # steps before the speed is measured (first-call costs)
ESTIMATE_STEPS = 20  # steps measured before the estimate of the finish
ESTIMATE_SECONDS = 3.0  # ... and at least this long, so that timer noise does not decide it


class TrainingError(HepganError):
    """Training cannot go on (e.g. losses keep turning NaN); the message says what to change."""


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    seconds: float
    last_logs: dict
    best: dict | None
    planned: int = 0  # schedule.steps
    cut_short: bool = False  # stopped by schedule.time_limit_s before ``planned``
    trained: int = 0  # steps trained by this call (fewer than ``steps`` when it resumed a run)


class Trainer:
    """Trains the GAN a :class:`TrainConfig` describes, in ``config.run_dir``."""

    def __init__(self, config: TrainConfig, callbacks: list[Callback] | None = None, data: PreparedData | None = None):
        self.config = config
        self.callbacks = list(callbacks or [])
        if isinstance(config.threads, int):
            use_threads(config.threads)
        seed_everything(config.seed)
        self.data = data or prepare_data(config)
        self.model = build_model(config.model, self.data.sample_shape, self.data.cond_dim, self.data.geometry)
        self.model.fit_data(*self.data.train.fitting_rows())
        self.opt_g = self._optimizer(self.model.generator.parameters(), config.optim.lr_g)
        self.opt_d = self._optimizer(self.model.critics.parameters(), config.optim.lr_d)
        self.ema = copy.deepcopy(self.model.generator).requires_grad_(False) if config.schedule.ema_decay else None
        self.run_dir = Path(config.run_dir)
        self.checkpoints = CheckpointDir(self.run_dir / "checkpoints", config.checkpoint.keep_last)
        self.step = 0
        self.epoch = 0
        self.position = 0
        self.lr_scale = 1.0
        self.nan_retries = 0
        self.best: dict | None = None
        self.last_metrics: dict = {}
        self._order = self.data.train.order(config.seed, 0)
        self._snapshot: dict | None = None
        nan = config.nan
        self._spikes = LossSpikeDetector(nan.spike_factor, nan.spike_window) if nan.spike_factor else None
        self._board = None
        batch = config.schedule.batch_size
        if batch > len(self.data.train):
            raise ConfigError(f"schedule.batch_size {batch} exceeds the {len(self.data.train)} training samples")
        # torchrun: each rank takes a shard of every global batch (see hepgan.train.distributed)
        self.dist = DataParallel.from_env()
        self.local_batch = self.dist.local_batch(batch) if self.dist else batch
        self.is_main = self.dist is None or self.dist.is_main
        # the critics' view of every training sample, when it is fixed (computed once, not per batch)
        train = self.data.train
        self._real_views = None if train.streamed else self.model.fixed_real_views(train.x, train.cond)
        self.threads: ThreadChoice | None = self._choose_threads() if config.threads == "auto" else None
        self.estimate: Estimate | None = None

    def _choose_threads(self) -> ThreadChoice:
        """Time one critic and one generator update of a copy of the model with each thread count
        (the model, its optimisers and the random streams are left as they were)."""
        model = copy.deepcopy(self.model)
        n = self.local_batch
        x, c = self.data.train.x[:n], self.data.train.cond[:n] if self.data.cond_dim else None

        def work() -> None:
            with torch.random.fork_rng(devices=[]):
                loss, _ = model.critic_loss(x, c)
                loss.backward()
                loss, _ = model.generator_loss(c, n)
                loss.backward()
                model.zero_grad(set_to_none=True)

        return choose_threads(work)

    # -- set-up -----------------------------------------------------------------------------
    def _optimizer(self, params, lr: float) -> torch.optim.Optimizer:
        o = self.config.optim
        if o.name == "adam":
            return torch.optim.Adam(params, lr=lr, betas=o.betas, weight_decay=o.weight_decay)
        return torch.optim.RMSprop(params, lr=lr, weight_decay=o.weight_decay)

    def _start_run_dir(self, resume: bool) -> None:
        config_file = self.run_dir / "config.yaml"
        if resume:
            if not self.checkpoints.last.exists():
                raise ConfigError(f"{self.run_dir}: nothing to resume (no checkpoints/last.pt)")
            return
        if self.checkpoints.last.exists():
            raise ConfigError(f"{self.run_dir} already holds a run; resume it (--resume) or choose another run_dir")
        if not self.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config_file.write_text(yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False))
        (self.run_dir / "metrics.jsonl").write_text("")

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to continue the run (and to use its generator) as tensors and plain values."""
        d = self.data
        return {
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "model": self.model.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": capture_rng(),
            "lr_scale": self.lr_scale,
            "nan_retries": self.nan_retries,
            "best": self.best,
            "last_metrics": self.last_metrics,
            "config": json.dumps(self.config.model_dump(mode="json")),
            "fingerprint": self.config.fingerprint(),
            "preprocessing": json.dumps(d.transform.to_dict()) if d.transform is not None else None,
            "encoder": d.encoder.to_dict(),
            "sample_shape": list(d.sample_shape),
            "geometry": d.geometry,
            "kind": d.kind,
            "family": self.config.model.family,
        }

    def load_state(self, state: dict) -> None:
        if saved_fingerprint(state) != self.config.fingerprint():
            raise ConfigError(
                "the checkpoint was made with a different config (model, data or schedule changed); resume the "
                f"run with its own config, the overrides it was started with included (hepgan train {self.run_dir} "
                "--resume), or start a new run_dir"
            )
        self.model.load_state_dict(state["model"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        # a checkpoint may carry calibrations fitted after its training ended; training goes on
        # from the raw generator, and they are fitted again at the end
        self.model.reset_calibration(self.model.generator)
        if self.ema is not None:
            self.model.reset_calibration(self.ema)
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.lr_scale, self.nan_retries = state["lr_scale"], state["nan_retries"]
        self.best, self.last_metrics = state["best"], state["last_metrics"]
        self._order = self.data.train.order(self.config.seed, self.epoch)
        restore_rng(state["rng"])

    def _truncate_log(self) -> None:
        """Drop log records a killed run wrote after its last checkpoint, so resumed logs do not repeat."""
        log = self.run_dir / "metrics.jsonl"
        if not log.exists():
            return
        kept = [line for line in log.read_text().splitlines() if line and json.loads(line).get("step", 0) <= self.step]
        tmp = temp_path_for(log)
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, log)

    # -- data -------------------------------------------------------------------------------
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = self.config.schedule.batch_size
        if self.position + b > len(self._order):
            self.epoch += 1
            self.position = 0
            self._order = self.data.train.order(self.config.seed, self.epoch)
        idx = self._order[self.position : self.position + b]
        self.position += b
        if self.dist is not None:
            idx = self.dist.shard(idx)
        return self.data.train.x[idx], self.data.train.cond[idx], idx

    def _generator_conditions(self, chunk: list[torch.Tensor]) -> torch.Tensor | None:
        mode = self.config.schedule.gen_conditions
        n = self.local_batch
        if self.data.cond_dim == 0:
            return None
        if mode == "last":
            return chunk[-1]
        pool = torch.cat(chunk) if mode == "chunk" else self.data.train.cond
        return self.model.generator_conditions(pool, n)

    # -- one step ---------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        if self.dist is None:
            return self._train_step()
        with self.dist.sharded_randomness(self.local_batch):
            logs = self._train_step()
        return self.dist.average_logs(logs)

    def _train_step(self) -> dict[str, float]:
        sched = self.config.schedule
        if sched.lr_decay_from is not None:
            self._apply_lr()
        self.model.train()
        logs: dict[str, float] = {}
        self.model.critics.requires_grad_(True)
        lazy = self.config.model.gp_every
        batches = [self._next_batch() for _ in range(sched.n_critic)]
        chunk = [c for _, c, _ in batches]
        conds = chunk if self.data.cond_dim else [None] * len(chunk)
        fakes = self.model.fake_views(conds, self.local_batch)
        for k, (x, _, idx) in enumerate(batches):
            views = {}
            if self._real_views is not None:
                views["real_view"] = self._real_views[idx]
            if fakes is not None:
                views["fake_view"] = fakes[k]
            # lazy penalties: every gp_every-th critic update carries them, counted from the step so
            # that a resumed run keeps the rhythm
            penalty = (self.step * sched.n_critic + k + 1) % lazy == 0
            loss, logs_d = self.model.critic_loss(x, conds[k], penalty=penalty, **views)
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            if self.dist is not None:
                self.dist.average_gradients(self.opt_d)
            self.opt_d.step()
        logs.update(logs_d)
        self.model.critics.requires_grad_(False)
        for _ in range(sched.n_gen):
            cond = self._generator_conditions(chunk)
            loss, logs_g = self.model.generator_loss(cond, self.local_batch)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            if self.dist is not None:
                self.dist.average_gradients(self.opt_g)
            self.opt_g.step()
            self._update_ema()
        logs.update(logs_g)
        self.step += 1
        return logs

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        # warm-up: early on the average would be dominated by the untrained initial weights
        decay = min(self.config.schedule.ema_decay, (1.0 + self.step) / (10.0 + self.step))
        for e, p in zip(self.ema.parameters(), self.model.generator.parameters()):
            e.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
        for e, b in zip(self.ema.buffers(), self.model.generator.buffers()):
            e.copy_(b)

    def _set_lr_scale(self, scale: float) -> None:
        self.lr_scale = scale
        self._apply_lr()

    def _apply_lr(self) -> None:
        """Learning rates = configured x NaN-recovery scale x annealing factor at this step."""
        factor = self.lr_scale * self._annealing()
        for opt, lr in ((self.opt_g, self.config.optim.lr_g), (self.opt_d, self.config.optim.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def _annealing(self) -> float:
        """1 until ``lr_decay_from`` x steps, then linear to 0 at ``steps`` (the last update gets 1/span)."""
        sched = self.config.schedule
        if sched.lr_decay_from is None:
            return 1.0
        start = sched.lr_decay_from * sched.steps
        return 1.0 if self.step < start else max(0.0, (sched.steps - self.step) / (sched.steps - start))

    def _finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    # -- generation and validation ------------------------------------------------------------
    @torch.no_grad()
    def generate(self, cond: torch.Tensor | None, n: int, seed: int = 0) -> torch.Tensor:
        """Model-space samples from the (EMA) generator, with noise from its own seeded stream."""
        generator = self.ema if self.ema is not None else self.model.generator
        was_training = generator.training
        generator.eval()
        z = torch.randn(n, self.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        out = generator(z, cond)
        generator.train(was_training)
        return out

    def held_out_samples(self, n: int, seed: int) -> ValidationSamples:
        """Generated samples under the conditions of the first ``n`` validation samples, with those
        samples as reference, all in physical units (the training split when there is no validation)."""
        val = self.data.val or self.data.train
        n = min(n, len(val))
        cond = val.cond[:n] if self.data.cond_dim else None
        fake = self.generate(cond, n, seed=seed).numpy()
        energies = val.energies_mev[:n] if val.energies_mev is not None else None
        shape = (n, *self.data.sample_shape) if self.data.kind == "images" else (n, -1)
        return ValidationSamples(
            generated=self.data.to_physical(fake, energies).reshape(shape),
            reference=self.data.to_physical(val.x[:n].numpy(), energies).reshape(shape),
            conditions={k: v[:n] for k, v in val.physical.items()},
            labels=val.labels[:n].numpy() if val.labels is not None and self.data.cond_dim else None,
            geometry=self.data.geometry,
            kind=self.data.kind,
        )

    def validate(self) -> dict[str, float]:
        samples = self.held_out_samples(self.config.eval.n_generated, seed=self.config.seed + 1)
        if samples.kind == "images":
            samples.generated = samples.generated.reshape(len(samples.generated), -1)
            samples.reference = samples.reference.reshape(len(samples.reference), -1)
        metrics: dict[str, float] = {}
        for name in self.config.eval.metrics:
            fn, _ = validation_metric(name)
            metrics.update(fn(samples))
        return metrics

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        cfg = self.config
        self._start_run_dir(resume)
        if resume:
            self.load_state(load_checkpoint(self.checkpoints.last))
            self._set_lr_scale(self.lr_scale)
            if self.is_main:
                self._truncate_log()
        for cb in self.callbacks:
            cb.on_train_start(self)
        if self.threads is not None and self.is_main:
            tqdm.write(f"train: {self.threads.describe()}")
        start = time.perf_counter()
        first_step = self.step
        mark: tuple[float, int] | None = None  # (time, step) where the speed measurement starts
        cut_short = False
        logs: dict[str, float] = {}
        # with torchrun only rank 0 writes the run directory; the other ranks log to nowhere
        log_file = open(self.run_dir / "metrics.jsonl" if self.is_main else os.devnull, "a")
        self._board = self._open_tensorboard() if self.is_main else None
        bar = tqdm(total=cfg.schedule.steps, initial=self.step, disable=not (cfg.log.progress and self.is_main),
                   unit="step", desc="train")
        try:
            self._take_snapshot()
            while self.step < cfg.schedule.steps:
                logs = self.train_step()
                diverged = self._diverged(logs)
                if diverged is not None:
                    self._recover(diverged)
                    continue
                cut_short = self.step < cfg.schedule.steps and self._out_of_time(start)
                final = self.step == cfg.schedule.steps or cut_short
                if self.step % cfg.nan.snapshot_every == 0:
                    self._take_snapshot()
                if self.step % cfg.log.every == 0 or final:
                    log_file.write(json.dumps({"step": self.step, "time": round(time.perf_counter() - start, 3), **logs}) + "\n")
                    log_file.flush()
                    bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items() if k.startswith("loss")}, refresh=False)
                    self._board_scalars("train", logs)
                if cfg.log.samples_every and self.step % cfg.log.samples_every == 0 and self.is_main:
                    self.save_samples()
                bar.update(1)
                if self.estimate is None:
                    if mark is None and self.step - first_step >= ESTIMATE_WARMUP:
                        mark = (time.perf_counter(), self.step)
                    elif mark is not None:
                        self._estimate(start, mark, bar)
                for cb in self.callbacks:
                    cb.on_step_end(self, self.step, logs)
                is_best = False
                # validation also at the last step, so that a run stopped early by its time guard
                # (even before its first eval.every) still selects a checkpoint from what it trained
                if cfg.eval.every and (self.step % cfg.eval.every == 0 or final) and self.is_main:
                    is_best = self._run_validation(log_file)
                if (self.step % cfg.checkpoint.every == 0 or final or is_best) and self.is_main:
                    self._checkpoint(is_best)
                if final:
                    break
        finally:
            bar.close()
            log_file.close()
            if self._board is not None:
                self._board.close()
            if self.dist is not None:
                self.dist.close()
        if self.is_main:
            self._calibrate()
        result = TrainResult(self.run_dir, self.step, time.perf_counter() - start, logs, self.best,
                             cfg.schedule.steps, cut_short, self.step - first_step)
        if self.is_main:
            self._write_outcome(result)
            if cut_short:
                tqdm.write(f"train: {cut_short_note(result.steps, result.planned, cfg.schedule.time_limit_s)}")
        for cb in self.callbacks:
            cb.on_train_end(self)
        return result

    def _estimate(self, start: float, mark: tuple[float, int], bar) -> None:
        """Once enough steps are timed: the speed, the expected finish and, when the time guard
        would stop the run early, a warning with what to do (said once, and kept in run.json)."""
        now = time.perf_counter()
        steps, seconds = self.step - mark[1], now - mark[0]
        if steps < ESTIMATE_STEPS or seconds < ESTIMATE_SECONDS:
            return
        rate = steps / seconds
        planned = self.config.schedule.steps
        self.estimate = Estimate(rate, now - start, (planned - self.step) / rate, planned,
                                 self.config.schedule.time_limit_s)
        if self.is_main:
            tqdm.write(f"train: {self.estimate.describe()}")
            bar.set_description(f"train (until {self.estimate.finish})")
        for cb in self.callbacks:
            cb.on_estimate(self, self.estimate)

    def _write_outcome(self, result: TrainResult) -> None:
        """run.json: how the training went (steps done of planned, why it stopped, speed, threads)."""
        choice = self.threads.seconds if self.threads is not None else None
        write_outcome(self.run_dir, outcome_record(result, self.config.schedule.time_limit_s, choice))

    def _out_of_time(self, start: float) -> bool:
        limit = self.config.schedule.time_limit_s
        if limit is None:
            return False
        out = time.perf_counter() - start >= limit
        return self.dist.any(out) if self.dist is not None else out  # torchrun: every rank stops at the same step

    def _run_validation(self, log_file) -> bool:
        metrics = self.validate()
        self.last_metrics = metrics
        log_file.write(json.dumps({"step": self.step, "validation": metrics}) + "\n")
        log_file.flush()
        self._board_scalars("validation", metrics)
        for cb in self.callbacks:
            cb.on_validation(self, self.step, metrics)
        select = self.config.eval.select
        if not select:
            return False
        value = metrics[select]
        better = self.best is None or (value < self.best["value"] if self.config.eval.mode == "min" else value > self.best["value"])
        if better:
            self.best = {"metric": select, "value": value, "step": self.step}
        return better

    def save_samples(self) -> Path:
        """Write the current generator's samples (npz + png) to ``run_dir/samples``."""
        from hepgan.train.samples import save_sample_set

        s = self.held_out_samples(self.config.log.n_samples, seed=self.config.seed + 2)
        return save_sample_set(self.run_dir / "samples", self.step, s.generated, s.reference, s.conditions,
                               s.kind, s.geometry)

    def _open_tensorboard(self):
        if not self.config.log.tensorboard:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("log.tensorboard needs the tensorboard package: pip install tensorboard") from None
        return SummaryWriter(str(self.run_dir / "tensorboard"))

    def _board_scalars(self, prefix: str, values: dict[str, float]) -> None:
        if self._board is not None:
            for key, value in values.items():
                self._board.add_scalar(f"{prefix}/{key}", value, self.step)

    def _calibrate(self) -> None:
        """Fit the calibrations (calo.calibrate_layers, calo.calibrate_response) of the generator
        that report, generate and export use (the best checkpoint's, else the last's) on the
        training showers."""
        path = self.checkpoints.best if self.checkpoints.best.exists() else self.checkpoints.last
        if self.model.has_calibration() and path.exists():
            x, cond, _ = self.data.train.fitting_rows()
            calibrate_checkpoint(path, self.model, x, cond, seed=self.config.seed)

    def _checkpoint(self, is_best: bool) -> None:
        if not self._finite():
            raise TrainingError(f"step {self.step}: weights are not finite; refusing to write a poisoned checkpoint")
        self.checkpoints.save(self.step, self.state(), best=is_best)

    def _take_snapshot(self) -> None:
        if self._finite():
            self._snapshot = copy.deepcopy(self.state())

    def _diverged(self, logs: dict[str, float]) -> str | None:
        """Why this step counts as diverged (non-finite losses, or a loss spike), else None."""
        bad = ", ".join(f"{k}={v}" for k, v in logs.items() if not math.isfinite(v))
        if bad:
            return f"non-finite losses ({bad})"
        return self._spikes.check(logs) if self._spikes is not None else None

    def _recover(self, why: str) -> None:
        nan = self.config.nan
        if nan.policy == "stop" or self.nan_retries >= nan.max_retries or self._snapshot is None:
            raise TrainingError(
                f"step {self.step}: {why} after {self.nan_retries} recoveries; "
                "lower optim.lr_g / optim.lr_d, raise model.gp_weight, or check the preprocessing"
            )
        retries = self.nan_retries + 1
        scale = self.lr_scale * nan.lr_factor
        self.load_state(self._snapshot)
        self.nan_retries = retries
        self._set_lr_scale(scale)
        tqdm.write(f"step {self.step}: {why}; restored the last good state, learning rates x{scale:g}")


def train(config: TrainConfig, *, resume: bool = False, callbacks: list[Callback] | None = None) -> TrainResult:
    """Train the configured GAN (continuing the run in ``config.run_dir`` with ``resume``)."""
    return Trainer(config, callbacks).fit(resume=resume)


__all__ = ["Estimate", "Trainer", "TrainResult", "TrainingError", "train"]
