"""Callbacks: the hooks the trainer calls, in order, on a real (short) run; a callback overrides only
the hooks it needs."""

import json

from hepgan.train import Callback, Trainer, load_train_config
from tests.helpers import shower_config


class Record(Callback):
    """Every hook, with what it was given."""

    def __init__(self):
        self.calls = []

    def on_train_start(self, trainer):
        self.calls.append(("start", trainer.step))

    def on_step_end(self, trainer, step, logs):
        self.calls.append(("step", step, dict(logs)))

    def on_validation(self, trainer, step, metrics):
        self.calls.append(("validation", step, dict(metrics)))

    def on_train_end(self, trainer):
        self.calls.append(("end", trainer.step))


def test_the_trainer_calls_each_hook_in_order_with_the_logged_values(tmp_path, shower_file):
    record = Record()

    class OnlySteps(Callback):  # the other hooks are the base class's no-ops
        def __init__(self):
            self.steps = []

        def on_step_end(self, trainer, step, logs):
            self.steps.append(step)

    only_steps = OnlySteps()
    config = load_train_config(shower_config(tmp_path / "run", shower_file, schedule={"steps": 4},
                                             eval={"every": 2, "metrics": ["response"], "n_generated": 50}))
    Trainer(config, callbacks=[record, only_steps]).fit()
    kinds = [(c[0], c[1]) for c in record.calls]
    assert kinds == [("start", 0), ("step", 1), ("step", 2), ("validation", 2), ("step", 3), ("step", 4),
                     ("validation", 4), ("end", 4)]
    assert only_steps.steps == [1, 2, 3, 4]
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    logged = {r["step"]: r for r in records if "validation" not in r}
    for call in record.calls:
        if call[0] == "step":  # the step's losses, as written to the log
            assert call[2] == {k: v for k, v in logged[call[1]].items() if k not in ("step", "time")}
        if call[0] == "validation":
            assert {"response_error", "resolution_error"} <= set(call[2])
