"""Where a study lives: a SQLite file in the run directory by default, or any database URL that
every worker can reach (``postgresql://user@host:5432/db``), so workers on many machines join one
study by running the same command.

Workers race when a study is new: the database tables and the study row are created by whichever
worker comes first (others retry, then load it), and that worker alone writes the study's
description (its search space or its job list) as a study attribute. The others wait for it and
refuse to join a study that was made from a different file.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

from hepgan.errors import ConfigError


def default_storage(run_dir: str | Path) -> str:
    """``sqlite:///RUN_DIR/study.db`` with an absolute path (workers may start elsewhere)."""
    return f"sqlite:///{(Path(run_dir) / 'study.db').resolve()}"


def shown_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 -- not even a URL: show it as given
        return url


def make_storage(url: str, attempts: int = 5):
    """An Optuna RDB storage for ``url``; creating its tables is retried (concurrent first workers)."""
    import optuna
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 120}}  # local workers take turns writing
    else:
        engine_kwargs = {"pool_pre_ping": True}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(_with_installed_driver(url), engine_kwargs=engine_kwargs)
        except ArgumentError as exc:
            raise ConfigError(f"storage {shown_url(url)!r} is not a database URL ({exc})") from None
        except ImportError as exc:
            raise ConfigError(f"storage {shown_url(url)!r}: the database driver is missing ({exc}); for PostgreSQL "
                              "pip install 'hepgan[postgres]'") from None
        except SQLAlchemyError as exc:
            if attempt == attempts - 1:
                raise ConfigError(f"cannot open storage {shown_url(url)!r}: {' '.join(str(exc).split())[:300]}") from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1 but psycopg2 to older releases; use
    whichever is installed (hepgan's ``postgres`` extra installs psycopg2-binary)."""
    import importlib.util

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.drivername != "postgresql":
        return url
    for module, driver in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return parsed.set(drivername=driver).render_as_string(hide_password=False)
    return url


@contextmanager
def claim_lock(url: str):
    """Held while a worker claims a queued trial. PostgreSQL makes the claim atomic itself
    (SELECT ... FOR UPDATE); SQLite ignores row locks, so two local workers could both claim the
    same trial: for a SQLite file, workers take turns on a lock file beside it."""
    if not url.startswith("sqlite:///"):
        yield
        return
    try:
        import fcntl
    except ImportError:  # no POSIX file locks (Windows): one local worker at a time is safe
        yield
        return
    with open(Path(url[len("sqlite:///"):]).with_suffix(".claim.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_study(storage, name: str, direction: str, sampler=None, pruner=None):
    """(study, created): create the study, or load it when another worker already did."""
    import optuna

    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=sampler,
                                    pruner=pruner, load_if_exists=False)
        return study, True
    except optuna.exceptions.DuplicatedStudyError:
        pass
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    have = study.direction.name.lower()
    if have != direction:
        raise ConfigError(f"study {name!r} in this storage maximises or minimises differently ({have}, the file "
                          f"says {direction}); use another study name")
    return study, False


def load_existing_study(storage, name: str, url: str):
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise ConfigError(f"no study {name!r} in {shown_url(url)} (it holds: {', '.join(names) or 'none'})") from None


def publish(study, key: str, value) -> None:
    """Record what this study was made from (the creating worker only)."""
    study.set_user_attr(key, json.loads(json.dumps(value)))


def await_description(study, key: str, expected, source: str, timeout: float = 120.0) -> None:
    """Wait until the creating worker published ``key``, then check it matches ours."""
    deadline = time.time() + timeout
    while key not in study.user_attrs:
        if time.time() > deadline:
            raise ConfigError(f"study {study.study_name!r} has no {key!r} description after {timeout:.0f} s "
                              "(was its first worker killed while creating it?); use a new study name")
        time.sleep(0.5)
    have = study.user_attrs[key]
    if have != json.loads(json.dumps(expected)):
        raise ConfigError(f"{source}: study {study.study_name!r} in this storage was made with a different {key} "
                          f"({json.dumps(have)[:200]}); use another study name or the original file")


__all__ = ["await_description", "claim_lock", "default_storage", "load_existing_study", "make_storage", "open_study", "publish",
           "shown_url"]
