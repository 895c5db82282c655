"""Analysis in a forked worker (safe_migrations/parallel.py) gives the very report of an inline run."""

from __future__ import annotations

import os
import re
import sys

import pytest

from safe_migrations import engine, parallel
from safe_migrations.conf import Config
from safe_migrations.rules.create_index_non_concurrently import CreateIndexNonConcurrently

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or parallel.available_cpus() < 2,
        reason="the worker is used on Linux with two CPUs only",
    ),
]


# Callable defaults (timezone.now, uuid.uuid4) are frozen into the SQL when it is
# generated: two runs differ there.
_NOW = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[.\d]*(?:[+-]\d\d:?\d\d)?|\b[0-9a-f]{32}\b")


def same(a: engine.Run, b: engine.Run) -> bool:
    return _NOW.sub("<now>", repr(a.report)) == _NOW.sub("<now>", repr(b.report))


def _lint(monkeypatch: pytest.MonkeyPatch, *, parallel_on: bool) -> tuple[engine.Run, list[int]]:
    forks: list[int] = []
    real_fork = parallel.Analyses._fork

    def counted(self: parallel.Analyses) -> None:
        forks.append(1)
        real_fork(self)

    monkeypatch.setattr(parallel, "MIN_MIGRATIONS", 1)
    monkeypatch.setattr(parallel.Analyses, "_fork", counted)
    config = Config(include_third_party=True, cache_dir=None, parallel=parallel_on)
    return engine.lint(config, engine.Request()), forks


def test_worker_report_equals_inline_report(monkeypatch):
    inline, forks = _lint(monkeypatch, parallel_on=False)
    assert forks == []
    forked, forks = _lint(monkeypatch, parallel_on=True)
    assert forks == [1]
    assert len(forked.report.migrations) > 20  # contrib apps and the test apps (opsapp on Django 6.1)
    assert forked.report.findings  # the comparison covers real findings
    assert same(forked, inline)


def test_a_rule_failing_in_the_worker_is_redone_in_the_parent(monkeypatch):
    inline, _ = _lint(monkeypatch, parallel_on=False)
    parent = os.getpid()
    real = CreateIndexNonConcurrently.check_statement

    def fails_in_the_worker(self, stmt, ctx):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            raise RuntimeError("worker only")
        return real(self, stmt, ctx)

    monkeypatch.setattr(CreateIndexNonConcurrently, "check_statement", fails_in_the_worker)
    forked, forks = _lint(monkeypatch, parallel_on=True)
    assert forks == [1]
    assert same(forked, inline)


def test_a_rule_crash_surfaces_in_the_parent_with_its_own_exception(monkeypatch):
    def broken(self, stmt, ctx):  # type: ignore[no-untyped-def]
        raise LookupError("a bug in a rule")

    monkeypatch.setattr(CreateIndexNonConcurrently, "check_statement", broken)
    with pytest.raises(LookupError, match="a bug in a rule"):
        _lint(monkeypatch, parallel_on=True)


def test_no_worker_for_a_few_migrations_or_when_turned_off():
    assert not parallel.worth_a_worker(parallel.MIN_MIGRATIONS - 1)
    assert parallel.worth_a_worker(parallel.MIN_MIGRATIONS)
    assert not parallel.worth_a_worker(10_000, enabled=False)


def test_files_the_worker_reads_reach_the_parent_collectors(monkeypatch, tmp_path):
    # python -m safe_migrations replays a run only while every file it read is unchanged:
    # a file only the worker opened (a module a rule imports lazily) must be in its record.
    from safe_migrations.reads import Reads

    marker = tmp_path / "read-by-the-worker.txt"
    marker.write_text("x")
    parent = os.getpid()
    real = CreateIndexNonConcurrently.check_statement

    def reads_a_file(self, stmt, ctx):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            marker.read_text()
        return real(self, stmt, ctx)

    monkeypatch.setattr(CreateIndexNonConcurrently, "check_statement", reads_a_file)
    with Reads() as seen:
        _, forks = _lint(monkeypatch, parallel_on=True)
    assert forks == [1]
    assert str(marker) in seen.files


def test_a_process_without_stdout_still_forks_the_worker(monkeypatch):
    # fd 1 closed (a daemon): Python sets sys.stdout to None; flushing it before fork crashed.
    inline, _ = _lint(monkeypatch, parallel_on=False)
    monkeypatch.setattr(sys, "stdout", None)
    forked, forks = _lint(monkeypatch, parallel_on=True)
    assert forks == [1]
    assert same(forked, inline)


def test_no_worker_while_another_thread_runs():
    import threading

    assert parallel.worth_a_worker(parallel.MIN_MIGRATIONS)
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        # fork() would copy this thread's locks but not the thread: no worker then.
        assert not parallel.worth_a_worker(parallel.MIN_MIGRATIONS)
    finally:
        release.set()
        thread.join()
    assert parallel.worth_a_worker(parallel.MIN_MIGRATIONS)


def test_a_cgroup_quota_of_one_cpu_means_no_worker(monkeypatch):
    monkeypatch.setattr(parallel, "_cgroup_cpus", lambda: 1.0)
    assert parallel.available_cpus() == 1.0
    assert not parallel.worth_a_worker(10_000)
    monkeypatch.setattr(parallel, "_cgroup_cpus", lambda: None)
    assert parallel.available_cpus() >= 2
