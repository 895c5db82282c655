"""Helpers for the gate and trace tests: throwaway databases and roles on the real server,
projects migrated part of the way, and the server's own statistics. (No tests here.)"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.bluegreen.db import scratch_database
from tests.project import REPO, Project, make_project

HOST = "127.0.0.1"
ADMIN_USER = "postgres"


def admin(dbname: str = "postgres", user: str = ADMIN_USER, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(host=HOST, user=user, dbname=dbname, autocommit=True, **kwargs)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def database(prefix: str = "sm_gate") -> contextlib.AbstractContextManager[str]:
    """A new database, dropped (with whatever is still connected) however the test ends."""
    return scratch_database(prefix)


@contextlib.contextmanager
def role(prefix: str = "sm_gate_ro") -> Iterator[str]:
    """A LOGIN role with no privilege at all; the test grants what it needs."""
    name = unique(prefix)
    with admin() as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
    try:
        yield name
    finally:
        with admin() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def project(tmp_path: Path, db_name: str, settings: str = "") -> Project:
    """The command tests' library project on ``db_name``, with extra settings appended."""
    made = make_project(tmp_path, db_name=db_name)
    if settings:
        path = made.root / "proj_settings.py"
        path.write_text(path.read_text() + textwrap.dedent(settings))
    return made


def migrate(made: Project, *args: str) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proj_settings",
        "PYTHONPATH": os.pathsep.join([str(made.root), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", *args, "-v", "0"],
        cwd=made.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def scratch_databases() -> set[str]:
    with admin() as conn:
        rows = conn.execute(r"SELECT datname FROM pg_database WHERE datname LIKE 'sm\_trace\_%'").fetchall()
    return {r[0] for r in rows}


def wait_until_idle(dbname: str, timeout: float = 30) -> None:
    """No other session in ``dbname``: the gate's backend has exited and flushed its statistics."""
    deadline = time.monotonic() + timeout
    with admin() as conn:
        while time.monotonic() < deadline:
            (count,) = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [dbname],
            ).fetchone()
            if count == 0:
                return
            time.sleep(0.1)
    raise AssertionError(f"sessions still open in {dbname}")


def write_counters(dbname: str) -> dict[str, object]:
    """What the server counted as written in ``dbname``: database totals and per table."""
    wait_until_idle(dbname)
    with admin(dbname) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        database_row = conn.execute(
            "SELECT tup_inserted, tup_updated, tup_deleted, xact_commit, xact_rollback"
            " FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        tables = conn.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, seq_scan"
            " FROM pg_stat_user_tables ORDER BY relname"
        ).fetchall()
    return {"database": database_row, "tables": {t[0]: t[1:] for t in tables}}
