"""``python -m safe_migrations [options]`` (or the ``django-migration-gate`` command):
``manage.py lintmigrations`` that answers a repeated run from the cache without starting
Django (see safe_migrations.replay).

Run it from the folder of ``manage.py`` (the settings module is read from it) or give
``--settings`` / ``DJANGO_SETTINGS_MODULE``; it accepts every option of lintmigrations.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from . import reads, replay

PROG = "python -m safe_migrations"
EXIT_USAGE = 2
_SETTINGS_IN_MANAGE_PY = re.compile(r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)['"]""")


def _settings_module(argv: list[str]) -> tuple[str | None, Path | None]:
    """--settings / --pythonpath as Django reads them, else the environment, else ./manage.py;
    and the manage.py it was looked up in, if it was (the replay record tracks that file)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--settings")
    parser.add_argument("--pythonpath")
    known, _ = parser.parse_known_args(argv)
    if known.pythonpath:
        sys.path.insert(0, known.pythonpath)
    if known.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = known.settings
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        return os.environ["DJANGO_SETTINGS_MODULE"], None
    manage_py = Path(os.path.abspath("manage.py"))
    try:
        # Not through the file collectors: manage.py is the entry script, not an input of
        # the migrations' SQL (a manage.py run does not count it either, so the two share the
        # cache); the replay record tracks it as an extra file.
        with reads.unwatched():
            found = _SETTINGS_IN_MANAGE_PY.search(manage_py.read_text(encoding="utf-8"))
    except OSError:
        return None, manage_py
    if found:
        os.environ["DJANGO_SETTINGS_MODULE"] = found.group(1)
        return found.group(1), manage_py
    return None, manage_py


def _replay(argv: list[str]) -> tuple[Path | None, str | None]:
    """The cache folder and this run's key; prints the recorded run and exits when it is valid."""
    try:
        from . import conf

        cache_dir = conf.load({}).cache_dir
        if cache_dir is None:
            return None, None
        run_key = replay.key(argv)
        record = replay.load(cache_dir, run_key)
    except Exception:  # noqa: BLE001 - a settings or config error: the normal run reports it
        return None, None
    if record is not None and record.still_valid():
        sys.stdout.write(record.stdout)
        sys.stderr.write(record.stderr)
        sys.stdout.flush()
        raise SystemExit(record.code)
    return cache_dir, run_key


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")
    return 1


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while importing Django or the project (the command has its own)
        sys.stderr.write(f"error: {PROG}: interrupted by SIGINT\n")
        return 130


def _main(argv: list[str] | None) -> int:
    global PROG
    if argv is None and not sys.argv[0].endswith("__main__.py"):
        PROG = os.path.basename(sys.argv[0])  # the console script
    argv = list(sys.argv[1:] if argv is None else argv)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # the project, as manage.py has it
    if argv[:1] == ["lintmigrations"]:
        argv = argv[1:]
    recorder = replay.Recorder()
    recorder.start()  # before the settings are imported: they may read files too
    settings_module, manage_py = _settings_module(argv)
    if settings_module is None:
        sys.stderr.write(
            f"error: {PROG}: no Django settings: run it from the folder of manage.py, "
            "or pass --settings=<module> or set DJANGO_SETTINGS_MODULE\n"
        )
        return EXIT_USAGE
    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - imports the settings module, nothing else
    except Exception as exc:  # noqa: BLE001 - a user's settings module that does not import
        detail = str(exc).strip().splitlines()
        sys.stderr.write(
            f"error: {PROG}: cannot load the settings {os.environ['DJANGO_SETTINGS_MODULE']!r}: "
            f"{type(exc).__name__}: {detail[0] if detail else ''}\n"
        )
        return EXIT_USAGE
    cache_dir, run_key = _replay(argv) if replay.replayable(argv) else (None, None)

    import django

    try:
        django.setup()  # what ManagementUtility would do, with a project's error as one line
    except Exception as exc:
        if "--traceback" in argv:
            raise
        detail = str(exc).strip().splitlines()
        sys.stderr.write(
            f"error: {PROG}: cannot start Django: {type(exc).__name__}: {detail[0] if detail else ''}"
            + (f" ({exc.filename}, line {exc.lineno})" if isinstance(exc, SyntaxError) else "")
            + "\n"
        )
        return EXIT_USAGE
    from django.core.management import ManagementUtility
    from django.db.backends.signals import connection_created

    connected: list[str] = []  # a run that talked to a database depends on more than files

    def note_connection(sender: object, connection: object, **kwargs: object) -> None:
        connected.append(str(getattr(connection, "alias", "?")))

    connection_created.connect(note_connection, weak=False)
    out, err = replay.Tee(sys.stdout), replay.Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        ManagementUtility([PROG, "lintmigrations", *argv]).execute()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    finally:
        sys.stdout, sys.stderr = out.real, err.real
    if cache_dir is not None and run_key is not None and code in (0, 1) and not connected:
        from . import conf

        root = conf.project_root()
        try:
            record = recorder.record(
                out.text(),
                err.text(),
                code,
                extra_files=[*conf.pyproject_candidates(root), *([manage_py] if manage_py else [])],
                skip=cache_dir,
            )
            if record is not None:
                replay.save(cache_dir, run_key, record)
        except OSError:
            pass  # the cache is an optimisation: never fail a run because it cannot be written
    return code


if __name__ == "__main__":
    sys.exit(main())
