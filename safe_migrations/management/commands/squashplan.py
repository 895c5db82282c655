"""manage.py squashplan: when to squash each app's migrations, and verified squash runs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from safe_migrations import conf
from safe_migrations.engine import DatabaseUnavailable
from safe_migrations.loading import GraphError, load_graph
from safe_migrations.management.interrupt import interrupted
from safe_migrations.selection import SelectionError
from safe_migrations.squash import plan as squash_plan
from safe_migrations.squash import report
from safe_migrations.squash.applied import applied_migrations
from safe_migrations.squash.run import run as run_squashes

EXIT_DUE = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3


def _as_of(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise conf.ConfigError(f"--as-of: expected a date like 2025-06-30, not {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Command(BaseCommand):
    help = (
        "Tell when each app's migrations are due for a squash (count, age, rate, schedule), what "
        "blocks it and which squashes can be cleaned up; --run squashes due apps and verifies them."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "app_label", nargs="*", help="Plan (or --run) only these apps (default: your own)."
        )
        parser.add_argument(
            "--format", choices=["text", "json"], default="text", help="text (default) or json."
        )
        parser.add_argument(
            "--check", action="store_true", help="Exit 1 when any app is due (a CI reminder)."
        )
        parser.add_argument(
            "--database",
            default=None,
            help="Read django_migrations on this alias (read-only) to tell whether squashes can be cleaned up.",
        )
        parser.add_argument(
            "--run",
            action="store_true",
            help="Squash every due, unblocked app with squashmigrations and verify the result "
            "(model state and PostgreSQL schema); a squash that fails is removed.",
        )
        parser.add_argument(
            "--scratch-database",
            default="default",
            metavar="ALIAS",
            help="With --run: the PostgreSQL server (this alias's) to create throwaway databases on.",
        )
        parser.add_argument(
            "--count", dest="squash_count", type=int, help="Due from this many migrations on."
        )
        parser.add_argument(
            "--age-days", dest="squash_age_days", type=int, help="Due once the oldest is this old."
        )
        parser.add_argument(
            "--as-of",
            metavar="DATE",
            help="Plan as of this date (ISO 8601; default: now). Ages and rates use it.",
        )
        parser.add_argument(
            "--include-third-party", action="store_true", help="Also plan apps installed in site-packages."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        labels = tuple(options["app_label"])
        try:
            if options["check"] and options["run"]:
                raise conf.ConfigError("--check and --run cannot be combined")
            config = conf.load({**options, "database": None})
            now = _as_of(options["as_of"]) if options["as_of"] else datetime.now(timezone.utc)
            loaded = load_graph(None)
            # An app with a migration that cannot be loaded has no trustworthy history: it is
            # left out of the plan (one line each), the other apps are still planned.
            broken = sorted({e.app_label for e in loaded.errors if e.app_label})
            if loaded.errors:
                lines = [f"{e.file or e.app_label}: {e.message}" for e in loaded.errors]
                # One line per broken thing; what merely depends on it adds nothing.
                lines = [line for line in lines if ": skipped: depends on" not in line] or lines
                for line in lines:
                    self.stderr.write(f"error: {line}")
                if options["run"]:
                    raise GraphError("--run needs every migration to load: fix the errors above first")
            database = options["database"]
            applied = applied_migrations(database) if database else None
            plan = squash_plan.build(
                loaded, labels, config, now, applied=applied, database=database, exclude=broken
            )
            runs = (
                run_squashes(plan, loaded, config, options["scratch_database"], labels)
                if options["run"]
                else None
            )
        except (conf.ConfigError, SelectionError, GraphError) as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        except DatabaseUnavailable as exc:
            raise CommandError(str(exc), returncode=EXIT_DATABASE) from exc
        except KeyboardInterrupt as exc:
            raise interrupted(exc) from None

        render = report.render_json if options["format"] == "json" else report.render_text
        self.stdout.write(render(plan, runs, style=self.style, verbosity=options["verbosity"]), ending="")
        if broken:
            raise CommandError(
                f"not planned, some migrations cannot be loaded: {', '.join(broken)}", returncode=EXIT_USAGE
            )
        if runs is not None and any(r.status == "failed" for r in runs):
            raise SystemExit(EXIT_DUE)
        if options["check"] and plan.due:
            raise SystemExit(EXIT_DUE)
