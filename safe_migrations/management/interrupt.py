"""Ctrl-C or SIGTERM during a command: one line and the shell's exit code, no traceback."""

from __future__ import annotations

import signal

from django.core.management.base import CommandError


def interrupted(exc: KeyboardInterrupt) -> CommandError:
    """One line (what happened to a scratch database, if any) and exit code 128 + signal."""
    signum = getattr(exc, "signum", signal.SIGINT)
    detail = str(exc.args[0]) if exc.args and "scratch database" in str(exc.args[0]) else ""
    name = signal.Signals(signum).name
    return CommandError(
        f"interrupted by {name}" + (f": {detail}" if detail else ""), returncode=128 + int(signum)
    )
