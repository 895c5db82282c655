"""Which files this process reads, and which directories it lists, while a collector is on.

One audit hook (PEP 578) for the process, installed on first use; collectors switch on and
off around the code they watch. The migration cache uses it to see the data files a
migration opens when it is imported (a RunSQL read from a .sql file); ``python -m
safe_migrations`` uses it to know everything a whole run depended on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from types import TracebackType
from typing import Any

_ACTIVE: list[Reads] = []
_installed = False
PYCACHE = f"{os.sep}__pycache__{os.sep}"


def is_byte_code(path: str) -> bool:
    return path.endswith(".pyc") and PYCACHE in path


def source_of(path: str) -> str:
    """The module source a byte-code file was compiled from (the path itself otherwise)."""
    if is_byte_code(path):
        try:
            return importlib.util.source_from_cache(path)
        except ValueError:
            return path
    return path


def python_text(path: str | os.PathLike[str]) -> str:
    """A Python file's text decoded as Python does (a ``# -*- coding: latin-1 -*-`` line)."""
    with open(path, "rb") as fh:
        return importlib.util.decode_source(fh.read())


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE:
        return
    if event == "open":
        path, mode, flags = args
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # a file descriptor
        if mode is not None:
            if any(c in str(mode) for c in "wax+"):
                return
        elif flags is not None and flags & (os.O_WRONLY | os.O_RDWR):
            return
        name = os.path.abspath(os.fsdecode(path))
        for reads in _ACTIVE:
            if name not in reads.files:
                reads.files[name] = reads.state(name)
    elif event in ("os.listdir", "os.scandir"):
        path = args[0] if args and args[0] is not None else "."
        if isinstance(path, (str, bytes, os.PathLike)):
            name = os.path.abspath(os.fsdecode(path))
            for reads in _ACTIVE:
                reads.dirs.add(name)


class Reads:
    """A collector: ``files`` maps each path opened for reading to ``state(path)`` at that moment."""

    def __init__(self) -> None:
        self.files: dict[str, Any] = {}
        self.dirs: set[str] = set()

    def state(self, path: str) -> Any:
        return None

    def start(self) -> Reads:
        global _installed
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True
        _ACTIVE.append(self)
        return self

    def stop(self) -> None:
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def __enter__(self) -> Reads:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def everything_read() -> set[str]:
    """The files every active collector has seen opened (a whole run's under python -m)."""
    found: set[str] = set()
    for reads in _ACTIVE:
        found.update(reads.files)
    return found


def active() -> list[Reads]:
    """The collectors switched on now (a worker process forked now inherits copies of them)."""
    return list(_ACTIVE)


def seen_since(
    collectors: list[Reads], known: list[tuple[set[str], set[str]]]
) -> list[tuple[dict[str, Any], set[str]]]:
    """Per collector, the files and directories it saw beyond ``known`` (its earlier sets)."""
    out = []
    for reads, (files, dirs) in zip(collectors, known, strict=True):
        out.append(({k: v for k, v in reads.files.items() if k not in files}, reads.dirs - dirs))
    return out


def merge(collectors: list[Reads], seen: list[tuple[dict[str, Any], set[str]]]) -> None:
    """Add what a worker process's copies of ``collectors`` saw to the collectors themselves."""
    for reads, (files, dirs) in zip(collectors, seen, strict=True):
        for name, state in files.items():
            reads.files.setdefault(name, state)
        reads.dirs.update(dirs)


@contextlib.contextmanager
def unwatched() -> Iterator[None]:
    """Files opened here are seen by no collector: the caller accounts for them itself."""
    saved = list(_ACTIVE)
    _ACTIVE.clear()
    try:
        yield
    finally:
        _ACTIVE[:] = saved
