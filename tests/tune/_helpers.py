"""Tiny search and study files around the shared tiny shower config (6-8 steps, 2 small networks)."""

import optuna
import yaml

from tests.helpers import shower_config

CRITICS = ["DENSE|32|LEAKYRELU, DENSE|1|LINEAR", "DENSE|16|LEAKYRELU, DENSE|1|LINEAR"]


def write_base(directory, shower_file, **sections):
    """A training config (YAML) that validates the response metric every 2 of its 6 steps."""
    config = shower_config("runs/unused", shower_file, schedule={"steps": 6, "batch_size": 32, "n_critic": 1},
                           eval={"every": 2, "metrics": ["response"], "n_generated": 100}, **sections)
    path = directory / "base.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_search(directory, shower_file, name="search", **fields):
    base = write_base(directory, shower_file)
    search = {"study": name, "config": base.name, "run_dir": str(directory / f"runs/{name}"), "trials": 3,
              "objective": {"metric": "resolution_error", "direction": "minimize"},
              "space": {"optim.lr_g": {"low": 1e-5, "high": 1e-3, "log": True},
                        "schedule.n_critic": {"low": 1, "high": 2},
                        "model.critic": CRITICS},
              "pruner": {"kind": "none"}, "sampler": {"kind": "random", "seed": 3}, **fields}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(search, sort_keys=False))
    return path


def sqlite_study(run_dir, name):
    """The Optuna study a search or study keeps in RUN_DIR/study.db."""
    return optuna.load_study(study_name=name, storage=f"sqlite:///{run_dir / 'study.db'}")
