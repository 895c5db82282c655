"""When each migration file was added: from git history in a checkout, else from file times."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

Key = tuple[str, str]

# A month, for rates: the mean Gregorian month (365.25 / 12 days).
MONTH_DAYS = 30.4375


@dataclass(frozen=True)
class Added:
    """When a migration file first appeared, and how we know."""

    at: datetime
    source: str  # "git" (the commit that added it) or "mtime" (file modification time)


@dataclass(frozen=True)
class History:
    added: dict[Key, Added] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # why ages may be off (shallow clone, git unavailable)

    def age_days(self, key: Key, now: datetime) -> int | None:
        found = self.added.get(key)
        if found is None:
            return None
        return max(0, (now - found.at) // timedelta(days=1))

    def rate_per_month(self, keys: Iterable[Key], now: datetime, window_days: int) -> float:
        """Migrations added in the ``window_days`` before ``now``, per month."""
        start = now - timedelta(days=window_days)
        recent = sum(1 for key in keys if (a := self.added.get(key)) is not None and start < a.at <= now)
        return recent * MONTH_DAYS / window_days


def _git(args: list[str], cwd: Path) -> str | None:
    """Git's output, or None when git is missing or the command fails."""
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotePath=false", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _from_git(top: Path, folders: set[Path]) -> dict[Path, datetime]:
    """The author time of the commit that added each file now present, one ``git log`` for all.

    Oldest commits first: a rename within the folders keeps the time of the first add
    (``-M``); a file deleted and added again gets the time of the last add.
    """
    relative = sorted(str(f.relative_to(top)) or "." for f in folders)
    out = _git(
        ["log", "--reverse", "-M", "--diff-filter=ADR", "--name-status", "--format=%x00%at", "--", *relative],
        top,
    )
    if out is None:
        return {}
    added: dict[str, datetime] = {}
    when: datetime | None = None
    for line in out.splitlines():
        if line.startswith("\x00"):
            when = datetime.fromtimestamp(int(line[1:]), tz=timezone.utc)
            continue
        parts = line.split("\t")
        if when is None or len(parts) < 2:
            continue
        status = parts[0][:1]
        if status == "A":
            added[parts[1]] = when
        elif status == "D":
            added.pop(parts[1], None)
        elif status == "R" and len(parts) == 3:
            added[parts[2]] = added.pop(parts[1], when)
    return {(top / name).resolve(): at for name, at in added.items()}


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, tz=timezone.utc)
    except OSError:
        return None


def load(files: Mapping[Key, Path], cwd: Path) -> History:
    """When each migration was added: git when ``cwd`` is in a checkout, else (or for files git
    does not know yet) the file's modification time."""
    notes: list[str] = []
    resolved = {key: path.resolve() for key, path in files.items()}
    from_git: dict[Path, datetime] = {}
    top_text = _git(["rev-parse", "--show-toplevel"], cwd)
    if top_text is not None and top_text.strip():
        top = Path(top_text.strip()).resolve()
        folders = {p.parent for p in resolved.values() if p.is_relative_to(top)}
        if folders:
            from_git = _from_git(top, folders)
        if (_git(["rev-parse", "--is-shallow-repository"], top) or "").strip() == "true":
            notes.append("the git clone is shallow: migrations older than its history look younger")
    else:
        notes.append("not a git checkout (or git unavailable): ages come from file modification times")
    added: dict[Key, Added] = {}
    for key, path in resolved.items():
        if path in from_git:
            added[key] = Added(from_git[path], "git")
        elif (mtime := _mtime(path)) is not None:
            added[key] = Added(mtime, "mtime")
    return History(added, tuple(notes))
