"""Run real Django operations through the collector and the rules, without files or a server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import django
from django.db import connections, migrations
from django.db.migrations.graph import MigrationGraph

from safe_migrations.conf import Config
from safe_migrations.context import Target
from safe_migrations.engine import analyse, enabled_rules
from safe_migrations.facts import CollectedMigration
from safe_migrations.findings import Finding
from safe_migrations.offline import offline_connection
from safe_migrations.sqlcollect import MigrationCollector, walk

APP = "shop"


@dataclass
class Mig:
    """One in-memory migration: its operations and options."""

    operations: Sequence[object]
    atomic: bool = True
    attrs: dict[str, object] = field(default_factory=dict)


@dataclass
class Result:
    collected: list[CollectedMigration]
    findings: list[Finding]

    @property
    def last(self) -> list[Finding]:
        name = self.collected[-1].name
        return [f for f in self.findings if f.location.migration == name]

    def codes(self, *, all_migrations: bool = False) -> list[str]:
        found = self.findings if all_migrations else self.last
        return sorted(f.rule for f in found if f.suppressed is None)

    def sql(self, index: int = -1) -> list[str]:
        return [s.sql for s in self.collected[index].statements]


def run(
    *history: Mig | Sequence[object],
    pg_version: int = 15,
    select: tuple[str, ...] = (),
    lock_timeout: bool = False,
    statement_timeout: bool = False,
    database: str | None = None,
    real_apps: tuple[str, ...] = (),
) -> Result:
    """Collect and lint a chain of migrations of app ``shop``; all are linted."""
    graph = MigrationGraph()
    keys = []
    for i, item in enumerate(history):
        mig = item if isinstance(item, Mig) else Mig(list(item))
        name = f"{i + 1:04d}_step"
        attrs = {
            "operations": list(mig.operations),
            "dependencies": [keys[-1]] if keys else [],
            "atomic": mig.atomic,
            **mig.attrs,
        }
        migration = type("Migration", (migrations.Migration,), attrs)(name, APP)
        key = (APP, name)
        graph.add_node(key, migration)
        if keys:
            graph.add_dependency(migration, key, keys[-1])
        keys.append(key)
    # PostgreSQL offline by default; ``database`` names another alias whose live backend
    # generates the SQL (SQLite in memory), as lintmigrations does for other engines.
    connection = offline_connection("default", pg_version) if database is None else connections[database]
    collector = MigrationCollector(connection, None)
    collected = []
    for item in walk(graph, keys, set(keys), collector, {}, real_apps=real_apps):
        assert item.error is None, item.error
        assert item.collected is not None
        collected.append(item.collected)
    target = Target(
        connection.vendor,
        pg_version if connection.vendor == "postgresql" else 0,
        lock_timeout_configured=lock_timeout,
        statement_timeout_configured=statement_timeout,
        django_version=tuple(django.VERSION[:2]),
    )
    config = Config(select=select)
    rules = enabled_rules(config)
    findings: list[Finding] = []
    for migration in collected:
        findings += analyse(migration, target, rules, config)[0]
    return Result(collected, findings)
