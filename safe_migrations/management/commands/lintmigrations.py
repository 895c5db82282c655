"""manage.py lintmigrations: find migrations that break a blue/green deploy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from safe_migrations import baseline, conf, reporters
from safe_migrations.docs import explain
from safe_migrations.engine import DatabaseUnavailable, Request, lint, spaced_gc_passes
from safe_migrations.loading import GraphError
from safe_migrations.management.interrupt import interrupted
from safe_migrations.reporters import sql as sql_reporter
from safe_migrations.rules import all_rules, find_rule
from safe_migrations.selection import SelectionError

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3


def split_targets(targets: list[str]) -> tuple[tuple[str, ...], str | None]:
    """App labels, and a migration name when the second of two targets is not an app label."""
    from django.apps import apps

    if len(targets) == 2 and targets[1] not in {c.label for c in apps.get_app_configs()}:
        return (targets[0],), targets[1]
    return tuple(targets), None


class Command(BaseCommand):
    help = (
        "Lint migrations and the SQL Django generates for them for changes that lock tables, "
        "rewrite them or break the code still running during a deploy."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "targets",
            nargs="*",
            metavar="app_label [migration_name] | app_label ...",
            help=(
                "Lint only these apps' migrations, or one migration: an app label and a "
                "migration name (a prefix is enough)."
            ),
        )
        parser.add_argument(
            "--database",
            default=None,
            help="Database alias whose ENGINE decides the SQL dialect (default: 'default').",
        )
        parser.add_argument(
            "--include-third-party",
            action="store_true",
            help="Also lint migrations of apps installed in site-packages.",
        )
        parser.add_argument(
            "--pending",
            action="store_true",
            help="Lint the migrations not yet applied on --database (connects, read-only).",
        )
        parser.add_argument(
            "--trace",
            action="store_true",
            help="With --pending: apply the pending migrations to a scratch database on the same "
            "server and report the locks, rewrites and scans PostgreSQL shows for each statement "
            "(the scratch database is always dropped; the target is never written to).",
        )
        parser.add_argument(
            "--trace-database",
            metavar="ALIAS",
            help="With --trace: create the scratch database through this connection (its server "
            "and credentials) instead of the target's server.",
        )
        parser.add_argument(
            "--since",
            metavar="GIT_REF",
            help="Lint migration files added or changed since the merge base with GIT_REF.",
        )
        parser.add_argument(
            "--pg-version",
            type=int,
            metavar="MAJOR",
            help="PostgreSQL major version to generate SQL for and judge against (offline mode).",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json", "sql"],
            default="text",
            help="text (default), json (versioned contract) or sql (sqlmigrate's layout).",
        )
        parser.add_argument(
            "--fail-on",
            choices=["error", "warning", "info", "never"],
            default=None,
            help="Lowest severity that makes the exit code 1 (default: error).",
        )
        parser.add_argument(
            "--select", action="append", help="Only these rules (codes, names or prefixes; comma-separated)."
        )
        parser.add_argument(
            "--ignore", action="append", help="Skip these rules (codes, names or prefixes; comma-separated)."
        )
        parser.add_argument("--no-cache", action="store_true", help="Neither read nor write the SQL cache.")
        parser.add_argument(
            "--baseline",
            metavar="FILE",
            help="Accept the findings recorded in FILE (see --write-baseline): only new ones count.",
        )
        parser.add_argument(
            "--write-baseline",
            metavar="FILE",
            help="Record the current findings in FILE, to adopt the tool on a legacy project.",
        )
        parser.add_argument(
            "--plan",
            action="store_true",
            help="For each must-split migration, print the safe release-by-release sequence of migrations.",
        )
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Rewrite each must-split migration (never an applied one) into the planned migrations.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="With --fix: print the diff of what would be written, write nothing.",
        )
        parser.add_argument("--list-rules", action="store_true", help="List every rule and exit.")
        parser.add_argument("--explain", metavar="CODE|NAME", help="Print a rule's documentation and exit.")

    def _warn_unsupported_version(self, config: conf.Config) -> None:
        """--pg-version older than the installed Django supports: say so, lint anyway."""
        import django

        if config.pg_version is None:
            return
        try:
            features = connections[config.database or "default"].features
        except Exception:  # noqa: BLE001 - a bad alias is reported by the run itself
            return
        minimum = getattr(features, "minimum_database_version", None)
        if connections[config.database or "default"].vendor == "postgresql" and minimum:
            if config.pg_version < minimum[0]:
                self.stderr.write(
                    f"warning: Django {django.get_version()} supports PostgreSQL {minimum[0]} and newer: "
                    f"migrate would refuse PostgreSQL {config.pg_version}; the SQL shown is what this "
                    "Django generates"
                )

    # --plan / --fix ------------------------------------------------------------------------

    def _plans(self, run: Any, config: conf.Config, options: dict[str, Any]) -> None:
        """The safe sequences (safe_migrations.planning): printed, or written with --fix."""
        import json

        from safe_migrations.planning import fix as fixing
        from safe_migrations.planning.plan import plans_for
        from safe_migrations.planning.render import plans_json, render_text
        from safe_migrations.reporters import json as json_reporter

        if options["dry_run"] and not options["fix"]:
            raise CommandError("--dry-run goes with --fix", returncode=EXIT_USAGE)
        vendor = connections[config.database].vendor
        if vendor != "postgresql":
            raise CommandError(
                f"--plan and --fix write PostgreSQL sequences; the database {config.database!r} is "
                f"{vendor}: lint it without them",
                returncode=EXIT_USAGE,
            )
        report = run.report
        for error in report.errors:
            self.stderr.write(f"error: {error.file or error.app_label}: {error.message}")
        if report.errors:
            raise CommandError("some migrations could not be loaded", returncode=EXIT_USAGE)
        plans = plans_for(run, config)
        if options["fix"]:
            try:
                outcome = fixing.fix(run, plans, config, dry_run=options["dry_run"])
            except fixing.FixError as exc:
                raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
            self.stdout.write(outcome.text, ending="")
            for warning in outcome.warnings:
                self.stderr.write(f"warning: {warning}")
            if outcome.refused:
                raise CommandError(outcome.refused, returncode=EXIT_USAGE)
            if outcome.unfixed:
                raise SystemExit(EXIT_FINDINGS)  # some must-split migrations are still unsafe
            return
        if options["format"] == "json":
            data = json_reporter.as_dict(report)
            data["plans"] = plans_json(plans, run.loaded.graph)
            self.stdout.write(json.dumps(data, indent=2) + "\n", ending="")
            return
        self.stdout.write(
            render_text(plans, run.loaded.graph, style=self.style, verbosity=options["verbosity"]), ending=""
        )
        # The checks --fix makes before writing: say now when it would refuse.
        ready = [p for p in plans if p.ok]
        for problem in fixing.verify(run, ready, config) if ready else []:
            self.stderr.write(f"warning: --fix would refuse: {problem}")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with spaced_gc_passes():
                self._handle(**options)
        except KeyboardInterrupt as exc:  # while the report is written, or --plan/--fix
            raise interrupted(exc) from None

    def _handle(self, **options: Any) -> None:
        if options["list_rules"]:
            for rule in all_rules():
                self.stdout.write(f"{rule.code}  {rule.name:<42} {rule.severity.label:<8} {rule.summary()}")
            return
        if options["explain"]:
            found = find_rule(options["explain"])
            if found is None:
                raise CommandError(
                    f"no rule {options['explain']!r} (see --list-rules)", returncode=EXIT_USAGE
                )
            self.stdout.write(explain(found), ending="")
            return
        try:
            config = conf.load(options)
            if options["pending"] and options["since"]:
                raise conf.ConfigError("--pending and --since cannot be combined")
            app_labels, migration_name = split_targets(options["targets"])
            request = Request(
                app_labels=app_labels,
                migration_name=migration_name,
                pending=options["pending"],
                since=options["since"],
                **_trace_options(options),
            )
            accepted = baseline.read(Path(options["baseline"])) if options["baseline"] else None
            self._warn_unsupported_version(config)
            run = lint(config, request)
        except (conf.ConfigError, SelectionError, GraphError, baseline.BaselineError) as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        except DatabaseUnavailable as exc:
            raise CommandError(str(exc), returncode=EXIT_DATABASE) from exc
        except KeyboardInterrupt as exc:
            raise interrupted(exc) from None

        report = run.report
        for warning in run.warnings:
            self.stderr.write(f"warning: {warning}")
        if options["plan"] or options["fix"] or options["dry_run"]:
            return self._plans(run, config, options)
        if accepted is not None:
            report = replace(report, findings=tuple(baseline.apply(report.findings, accepted)))
        if options["write_baseline"]:
            try:
                count = baseline.write(Path(options["write_baseline"]), report.findings)
            except OSError as exc:
                raise CommandError(
                    f"--write-baseline {options['write_baseline']}: {exc.strerror or exc}",
                    returncode=EXIT_USAGE,
                ) from None
            self.stderr.write(f"wrote {count} finding(s) to {options['write_baseline']}")
        if options["format"] == "sql":
            # Printing SQL is sqlmigrate's job: findings do not change the exit code here.
            # sqlmigrate wraps a migration in BEGIN/COMMIT only where DDL can be rolled back.
            rollback = bool(getattr(connections[config.database].features, "can_rollback_ddl", True))
            self.stdout.write(sql_reporter.render(run.collected, can_rollback_ddl=rollback), ending="")
            for error in report.errors:
                self.stderr.write(f"error: {error.file or error.app_label}: {error.message}")
            if report.errors:
                raise CommandError("some migrations could not be loaded", returncode=EXIT_USAGE)
            return
        else:
            render = reporters.FORMATS[options["format"]]
            self.stdout.write(render(report, style=self.style, verbosity=options["verbosity"]), ending="")
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} migration(s) could not be loaded or linted (see above)",
                returncode=EXIT_USAGE,
            )
        worst = report.worst()
        if config.fail_on is not None and worst is not None and worst >= config.fail_on:
            raise SystemExit(EXIT_FINDINGS)


def _trace_options(options: dict[str, Any]) -> dict[str, Any]:
    """--trace and --trace-database, checked for the combinations that make sense."""
    if options.get("trace_database") and not options.get("trace"):
        raise conf.ConfigError("--trace-database needs --trace")
    if options.get("trace") and not options.get("pending"):
        raise conf.ConfigError(
            "--trace needs --pending (it applies the pending migrations to a scratch database)"
        )
    if options.get("trace") and options.get("format") == "sql":
        raise conf.ConfigError("--trace reports findings: use --format text or json")
    return {"trace": bool(options.get("trace")), "trace_database": options.get("trace_database")}
