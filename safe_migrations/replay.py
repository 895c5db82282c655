"""Answer a repeated run from the cache without starting Django.

``manage.py lintmigrations`` always pays ``django.setup()`` (importing every app of the
project) before the command even starts; on a large project that is most of a warm run.
``python -m safe_migrations`` runs the same command, and on the way records what the run
depended on: every file it read or imported (path, size, mtime, inode), every directory it
listed (the names in it), the environment, the arguments, the working directory, the
interpreter and whether the output went to a terminal. The next run with the same arguments
imports only the settings (to find the cache), checks that record, and when nothing changed
prints the recorded output and exits with the recorded code.

Only runs that need nothing but files are recorded: no ``--pending``, ``--since``,
``--trace``, ``--fix`` or ``--write-baseline``, no database connection opened (offline
PostgreSQL SQL; other engines connect and are never replayed), and an exit code of 0 or 1.
Anything unexpected while checking (an unreadable record, a settings error) means a normal run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .reads import PYCACHE, Reads, source_of

FORMAT = 2
KEEP = 32  # records kept per cache directory (the most recently written)

# Options whose result depends on more than files (a database, git, the clock) or that write.
NOT_REPLAYED = (
    "--pending",
    "--trace",
    "--trace-database",
    "--since",
    "--fix",
    "--dry-run",
    "--write-baseline",
    "--no-cache",
    "--list-rules",
    "--explain",
    "--help",
    "--version",
)
# Environment variables that change between shells without changing what a run does.
VOLATILE_ENV = frozenset(
    {"_", "OLDPWD", "PWD", "SHLVL", "TERM_SESSION_ID", "WINDOWID", "SSH_AUTH_SOCK", "SSH_AGENT_PID"}
)
IGNORED_ROOTS = ("/proc/", "/dev/", "/sys/")


def replayable(argv: list[str]) -> bool:
    """False when an argument (or an abbreviation argparse would accept) is in NOT_REPLAYED."""
    for arg in argv:
        if arg == "-h":
            return False
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if any(option.startswith(name) for option in NOT_REPLAYED):
                return False
    return True


def _env_digest() -> str:
    h = hashlib.sha256()
    for name in sorted(os.environ):
        if name not in VOLATILE_ENV:
            h.update(f"{name}={os.environ[name]}\0".encode(errors="surrogateescape"))
    return h.hexdigest()


def _stream_is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def key(argv: list[str]) -> str:
    """Everything outside the files that can change what a run prints."""
    import django

    h = hashlib.sha256()
    parts = (
        FORMAT,
        __version__,
        django.__version__,
        sys.executable,
        sys.version,
        os.getcwd(),
        _env_digest(),
        _stream_is_tty(sys.stdout),
        _stream_is_tty(sys.stderr),
        tuple(argv),
        tuple(sys.flags),  # -O, -E, -I, -B ...
        tuple(sys.warnoptions),  # -W error turns a warning into a failure
        sorted(sys._xoptions.items()),
    )
    h.update(repr(parts).encode(errors="surrogateescape"))
    return h.hexdigest()[:32]


_REAL_STAT = os.stat  # Recorder replaces os.stat while a run is recorded


State = tuple[int, int, int] | tuple[str] | None


def _state(st: os.stat_result, *, dirs: bool = False) -> State:
    """Size, mtime and inode; with ``dirs``, a directory counts only as existing (its mtime
    moves whenever anything in it changes)."""
    if dirs and stat.S_ISDIR(st.st_mode):
        return ("dir",)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _file_state(path: str, *, dirs: bool = False) -> State:
    try:
        return _state(_REAL_STAT(path), dirs=dirs)
    except OSError:
        return None


def _dir_state(path: str) -> str | None:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return None
    return hashlib.sha256("\0".join(names).encode(errors="surrogateescape")).hexdigest()


@dataclass
class Record:
    """What one run printed, and the state of everything it depended on."""

    files: dict[str, State]
    stats: dict[str, State]  # paths only stat-ed: existence checks
    dirs: dict[str, str | None]
    stdout: str
    stderr: str
    code: int

    def still_valid(self) -> bool:
        return (
            all(_file_state(p) == s for p, s in self.files.items())
            and all(_file_state(p, dirs=True) == s for p, s in self.stats.items())
            and all(_dir_state(p) == s for p, s in self.dirs.items())
        )


class Recorder(Reads):
    """Every file opened for reading (with its state as it was read), every path whose
    existence was asked (os.stat: a settings file that reads ``local.env`` if it exists) and
    every directory listed, from the start of the process."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.time_ns()
        self.stats: dict[str, State] = {}

    def state(self, path: str) -> State:
        # Byte code follows its source: the source is what is tracked (also when the module
        # failed to import and left sys.modules).
        return _file_state(source_of(path))

    def start(self) -> Recorder:
        super().start()
        real = _REAL_STAT

        def recording_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            try:
                result = real(path, *args, **kwargs)
            except OSError:
                self._note_stat(path, None, args, kwargs)
                raise
            self._note_stat(path, result, args, kwargs)
            return result

        os.stat = recording_stat
        return self

    def stop(self) -> None:
        super().stop()
        os.stat = _REAL_STAT

    def _note_stat(self, path: Any, result: os.stat_result | None, args: Any, kwargs: Any) -> None:
        if args or kwargs.get("dir_fd") is not None or not isinstance(path, (str, bytes, os.PathLike)):
            return
        name = os.path.abspath(os.fsdecode(path))
        if name not in self.stats and PYCACHE not in name:
            self.stats[name] = None if result is None else _state(result, dirs=True)

    def record(
        self, stdout: str, stderr: str, code: int, extra_files: list[Path], skip: Path
    ) -> Record | None:
        """The record, or None when something it depends on changed while the run went on."""
        self.stop()
        files: dict[str, State] = {}
        for path, state in self.files.items():
            files.setdefault(source_of(path), state)
        for module in list(sys.modules.values()):
            name = getattr(module, "__file__", None)
            if isinstance(name, str):
                files.setdefault(os.path.abspath(name), _file_state(name))
        for extra in map(str, extra_files):
            files.setdefault(extra, _file_state(extra))
        skipped = (str(skip) + os.sep, *IGNORED_ROOTS)
        files = {p: s for p, s in files.items() if not p.startswith(skipped) and PYCACHE not in p}
        stats = {p: s for p, s in self.stats.items() if not p.startswith(skipped) and p not in files}
        states = [*files.values(), *stats.values()]
        if any(len(s) == 3 and int(s[1]) >= self.started for s in states if s):
            return None  # edited during the run: what was printed may not match what is there now
        # A namespace package (a folder without __init__.py: Django takes such a migrations
        # folder for "no migrations") was found by the import system's own stat calls, which
        # no hook sees: its listing is what tells when an __init__.py appears.
        listed = set(self.dirs)
        for module in list(sys.modules.values()):
            search = getattr(module, "__path__", None)
            if (
                getattr(module, "__file__", None) is None
                and search is not None
                and not isinstance(search, list)
            ):
                listed.update(os.path.abspath(entry) for entry in list(search))
        return Record(
            files=files,
            stats=stats,
            dirs={
                p: _dir_state(p)
                for p in sorted(listed)
                if not (p + os.sep).startswith(skipped) and not (p + os.sep).endswith(PYCACHE)
            },
            stdout=stdout,
            stderr=stderr,
            code=code,
        )


class Tee:
    """A stream that also keeps what was written (colour and isatty() as the real one)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.real.write(text)

    def text(self) -> str:
        return "".join(self.parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def folder(cache_dir: Path) -> Path:
    return cache_dir / "replay"


def load(cache_dir: Path, run_key: str) -> Record | None:
    try:
        with (folder(cache_dir) / f"{run_key}.pickle").open("rb") as fh:
            data = pickle.load(fh)
    except Exception:  # noqa: BLE001 - no record, or one we cannot read: a normal run
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    record = data.get("record")
    return record if isinstance(record, Record) else None


def save(cache_dir: Path, run_key: str, record: Record) -> None:
    from .cache import write_pickle  # not at import: a replayed run never writes

    target = folder(cache_dir)
    write_pickle(cache_dir, target / f"{run_key}.pickle", {"format": FORMAT, "record": record})
    records = sorted(target.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in records[KEEP:]:
        old.unlink(missing_ok=True)
