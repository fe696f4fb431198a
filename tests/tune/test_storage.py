"""A real PostgreSQL server on localhost, and two ``hepgan tune --storage postgresql://...`` worker
processes (as on two machines) contributing trials to one study.

The test starts its own server: initdb into a temporary directory and pg_ctl start on a free port.
PostgreSQL refuses to run as root, so under root (CI) the server runs as the ``postgres`` user
(or ``nobody``) via runuser/su, with the directory handed over to it. It skips, saying why, when
no server binaries are installed or the server cannot start.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from hepgan.cli import main
from hepgan.errors import ConfigError
from hepgan.tune.storage import make_storage, shown_url
from tests.tune._helpers import write_search


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> tuple[list[str], str | None]:
    """The command, run as an unprivileged user when we are root; and that user's name."""
    if os.getuid() != 0:
        return argv, None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--", *argv], name
        return ["su", name, "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in argv)], name
    pytest.skip("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


@pytest.fixture
def postgres_url():
    bindir = _bindir()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed; apt-get install postgresql")
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed: pip install 'hepgan[postgres]'")
    root = Path(tempfile.mkdtemp(prefix="hepgan-pg-"))  # not under pytest's root-only tmp tree
    data, log, port = root / "data", root / "server.log", _free_port()
    _, user = _as_server_user(["true"])
    if user is not None:
        record = pwd.getpwnam(user)
        os.chown(root, record.pw_uid, record.pw_gid)

    def run(argv, **kw):
        return subprocess.run(_as_server_user(argv)[0], check=False, capture_output=True, text=True, **kw)

    try:
        init = run([str(bindir / "initdb"), "-D", str(data), "-U", "hepgan", "--auth=trust", "--no-sync", "-E", "UTF8"],
                   timeout=120)
        if init.returncode != 0:
            pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
                    timeout=90)
        if start.returncode != 0:
            tail = log.read_text()[-300:] if log.exists() else start.stderr[-300:]
            pytest.skip(f"PostgreSQL did not start: {tail.strip()}")
        yield f"postgresql://hepgan@127.0.0.1:{port}/postgres"
    finally:
        if data.exists():
            run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study(tmp_path, shower_file, postgres_url, capsys):
    """Worker B is a fresh ``hepgan tune`` process; once it holds a trial, worker A (this test's
    process, running the same command line) joins, so both surely contribute."""
    trials = 5
    path = write_search(tmp_path, shower_file, name="shared", trials=trials, set={"schedule.steps": 8})
    args = ["tune", str(path), "--storage", postgres_url]
    worker_b = subprocess.Popen([sys.executable, "-m", "hepgan", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    storage = None
    deadline = time.time() + 120
    while worker_b.poll() is None and time.time() < deadline:
        try:
            storage = storage or make_storage(postgres_url)
            if optuna.load_study(study_name="shared", storage=storage).trials:
                break
        except (ConfigError, KeyError):  # no tables or no study yet
            pass
        time.sleep(0.2)
    assert main(args) == 0  # worker A
    out_b, err_b = worker_b.communicate(timeout=300)
    assert worker_b.returncode == 0, err_b
    study = optuna.load_study(study_name="shared", storage=make_storage(postgres_url))
    assert trials <= len(study.trials) <= trials + 1  # the two may both start the last trial
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    by_worker = {t.user_attrs["worker"].split(":")[1] for t in study.trials}
    assert by_worker == {str(worker_b.pid), str(os.getpid())}, "one worker ran every trial"
    assert len({t.user_attrs["run_dir"] for t in study.trials}) == len(study.trials)  # a run directory each
    n = len(study.trials)
    table = (tmp_path / "runs/shared/results.md").read_text()
    assert f"{n} trials: {n} complete." in table and "| trial | state | resolution_error |" in table
    assert "study shared in postgresql://hepgan@127.0.0.1" in out_b + capsys.readouterr().out


def test_storage_errors_are_one_line():
    with pytest.raises(ConfigError, match="is not a database URL"):
        make_storage("not a url")
    with pytest.raises(ConfigError, match=r"cannot open storage 'postgresql://u:\*\*\*@127.0.0.1:1/x'"):
        make_storage("postgresql://u:secret@127.0.0.1:1/x", attempts=1)
    assert shown_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
