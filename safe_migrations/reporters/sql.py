"""The collected SQL in sqlmigrate's layout, one block per migration."""

from __future__ import annotations

from collections.abc import Iterable

from ..facts import CollectedMigration


def render(migrations: Iterable[CollectedMigration], *, can_rollback_ddl: bool = True) -> str:
    blocks = []
    for migration in migrations:
        lines = [f"-- {migration.app_label}.{migration.name}"]
        lines += migration.sqlmigrate_lines(can_rollback_ddl)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
