"""Analysis in a second process while the walk goes on.

A cold run does two kinds of work: the walk (rendering models and generating each
migration's SQL, strictly in plan order, one state feeding the next) and the analysis of
each collected migration (parsing its SQL, 48 rules, fix code), which depends on that
migration alone (engine.analyse; its result is cached per migration). On a machine with
a second core the analysis runs in a worker forked from this process once Django is set
up: each migration is handed over as soon as the walk has collected it, and the results
come back in order. The worker inherits everything (settings, rules, configuration), so
only collected migrations and findings cross the pipe, pickled, as in the cache.

Used only where ``fork`` is safe and cheap (Linux, a process with no other thread), with
at least two CPUs available to this process (affinity and cgroup quota), and when enough
migrations are to be analysed for the worker to pay for itself; everywhere else, and with
``SAFE_MIGRATIONS = {"PARALLEL": False}`` (or ``parallel = false`` in pyproject.toml),
analysis runs inline.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import reads
from .facts import CollectedMigration
from .findings import Finding, MigrationResult

Analysed = tuple[list[Finding], MigrationResult]
Analyse = Callable[[CollectedMigration, bool], Analysed]
Key = tuple[str, str]

# Fewer fresh migrations than this are analysed inline: forking and pickling cost a
# few milliseconds, a migration's analysis about half of one.
MIN_MIGRATIONS = 64


def _cgroup_cpus() -> float | None:
    """The CPU quota of this process's cgroup (containers, CI runners), if one is set."""
    try:  # cgroup v2: "max 100000" (no limit) or "<quota> <period>"
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: a quota of -1 means no limit
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def available_cpus() -> float:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    return min(cpus, quota) if quota is not None else cpus


def _single_threaded() -> bool:
    """fork() copies only the calling thread: a lock another thread holds (logging, an
    APM agent started in settings) would stay held in the worker forever."""
    if threading.active_count() > 1:
        return False
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1]) == 1  # threads started by C libraries too
    except (OSError, ValueError, IndexError):
        pass
    return True


def worth_a_worker(count: int, enabled: bool = True) -> bool:
    """Whether ``count`` analyses should go to a worker process on this machine, now."""
    if not enabled or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return count >= MIN_MIGRATIONS and available_cpus() >= 2 and _single_threaded()


def _serve(analyse: Analyse, tasks: BinaryIO, out: BinaryIO, watching: list[reads.Reads]) -> None:
    """The worker: analyse each migration read from ``tasks``; at EOF write every result,
    and what the worker read that the parent's file collectors (``watching``) would have
    seen (a rule importing a module lazily: ``python -m safe_migrations`` must know).

    Results are held until the end so the parent never has to read while it writes
    (no deadlock on full pipes, no reader thread competing with the walk). The first
    failure stops the worker: the parent analyses what is missing itself, so a crash
    in a rule surfaces there with its usual traceback.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # an interrupt is the parent's to report
    known = [(set(r.files), set(r.dirs)) for r in watching]
    results: dict[Key, Analysed] = {}
    while True:
        try:
            migration, cached = pickle.load(tasks)
        except EOFError:
            break
        try:
            results[migration.key] = analyse(migration, cached)
        except Exception:  # noqa: BLE001 - the parent redoes it and reports it
            break
    pickle.dump((results, reads.seen_since(watching, known)), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


class Analyses:
    """Analyses handed to a worker as migrations are collected, read back after the walk.

    ``analyse`` runs in the worker (inline for whatever the worker did not do); it must
    need nothing but the collected migration and what the process had when it forked.
    """

    def __init__(self, analyse: Analyse, *, worker: bool) -> None:
        self._analyse = analyse
        self._pid: int | None = None
        self._tasks: BinaryIO | None = None
        self._results: BinaryIO | None = None
        self._done: dict[Key, Analysed] | None = None
        self._watching: list[reads.Reads] = []
        if worker:  # the caller asked worth_a_worker(), and prepared what the worker inherits
            self._fork()

    def _fork(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            # Nothing buffered is written twice. A process without a stdout (fd 1 closed:
            # sys.stdout is None) or with a closed replacement has nothing to flush.
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.flush()
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        self._watching = reads.active()
        try:
            pid = os.fork()
        except OSError:  # no more processes: analyse inline
            for fd in (task_read, task_write, result_read, result_write):
                os.close(fd)
            return
        if pid == 0:  # the worker
            os.close(task_write)
            os.close(result_read)
            code = 1
            try:
                with os.fdopen(task_read, "rb") as tasks, os.fdopen(result_write, "wb") as out:
                    _serve(self._analyse, tasks, out, self._watching)
                code = 0
            finally:
                os._exit(code)  # no atexit handlers, no buffers of the parent flushed
        os.close(task_read)
        os.close(result_write)
        self._pid = pid
        self._tasks = os.fdopen(task_write, "wb")
        self._results = os.fdopen(result_read, "rb")

    def submit(self, migration: CollectedMigration, cached: bool) -> None:
        if self._tasks is None:
            return
        try:
            pickle.dump((migration, cached), self._tasks, protocol=pickle.HIGHEST_PROTOCOL)
            self._tasks.flush()
        except (OSError, pickle.PicklingError):  # the worker is gone: analyse inline
            self._stop()

    def result(self, migration: CollectedMigration, cached: bool) -> Analysed:
        if self._done is None:
            self._done = self._collect()
        found = self._done.pop(migration.key, None)
        return found if found is not None else self._analyse(migration, cached)

    def _collect(self) -> dict[Key, Analysed]:
        if self._tasks is None or self._results is None:
            return {}
        done: dict[Key, Analysed] = {}
        try:
            self._tasks.close()  # EOF: the worker sends what it has
            self._tasks = None
            done, seen = pickle.load(self._results)
            reads.merge(self._watching, seen)
        except (OSError, EOFError, pickle.UnpicklingError):
            done = {}
        self._stop()
        return done

    def _stop(self) -> None:
        for stream in (self._tasks, self._results):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._tasks = self._results = None
        if self._pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(self._pid, 0)
            self._pid = None

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> Analyses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
