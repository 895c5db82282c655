"""Deploy phase of each linted migration: pre-deploy, post-deploy or must-split (DESIGN.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pglast import ast, enums

from .catalog import not_null_test_column
from .facts import CollectedMigration, OperationFacts
from .findings import Finding, MigrationResult, Phase, Report, Severity
from .parsing.postgres import relname
from .parsing.statement import Statement, parse_migration

Key = tuple[str, str]
AT = enums.AlterTableType
OBJ = enums.ObjectType

# Findings about one column: they only matter to old code that knows the column.
_COLUMN_RULES = frozenset({"SM201", "SM203"})
POST_DEPLOY_MARKER = "post-deploy"


def _bare(name: str) -> str:
    return name.rsplit(".", 1)[-1].strip('"')


@dataclass(frozen=True)
class RunningRelease:
    """What the code serving traffic while migrations run knows: its model state, as tables.

    ``tables``: table -> columns of every concrete model of the running release.
    ``created``: tables that only the migrations being deployed create (the running
    release never queries them, so a lock or a break there hurts no live request).
    """

    source: str  # "applied migrations" or "base ref"
    tables: dict[str, frozenset[str]]
    created: frozenset[str]
    present: frozenset[Key] = frozenset()  # the migrations the running release already has
    not_null: dict[str, frozenset[str]] = field(default_factory=dict)  # table -> NOT NULL columns

    def uses_table(self, table: str) -> bool:
        name = _bare(table)
        return name in self.tables or name not in self.created

    def uses_column(self, table: str, column: str) -> bool:
        columns = self.tables.get(_bare(table))
        if columns is None:
            return self.uses_table(table)
        return column in columns

    def writes_non_null(self, table: str, column: str) -> bool:
        """The running release's model declares ``column`` NOT NULL (null=False), so it
        never writes NULL there."""
        return column in self.not_null.get(_bare(table), frozenset())


def _state_tables(state: Any) -> dict[str, frozenset[str]]:
    """Concrete tables of a ProjectState with their columns (no rendering)."""
    return {table: frozenset(columns) for table, columns in _state_columns_null(state).items()}


def _state_columns_null(state: Any) -> dict[str, dict[str, bool]]:
    """Concrete tables of a ProjectState: column -> null=True (no rendering)."""
    from django.db.backends.utils import truncate_name

    tables: dict[str, dict[str, bool]] = {}
    for model_state in state.models.values():
        options = model_state.options
        if options.get("proxy") or not options.get("managed", True):
            continue
        table = options.get("db_table") or truncate_name(
            f"{model_state.app_label}_{model_state.name_lower}", 63
        )
        columns: dict[str, bool] = {}
        for name, model_field in model_state.fields.items():
            if getattr(model_field, "many_to_many", False):
                continue
            if getattr(model_field, "db_column", None):
                column = str(model_field.db_column)
            else:
                column = f"{name}_id" if model_field.is_relation else name
            columns[column] = bool(getattr(model_field, "null", False))
        tables[str(table)] = columns
    return tables


def running_release(
    loaded: Any, plan: Sequence[Key], present: set[Key], source: str
) -> RunningRelease | None:
    """The running release's tables: the state after the migrations in ``present``.

    The plan is walked once more, unrendered: the present migrations build the running
    release's state, the others (being deployed) only say which tables are new.
    None when a migration's state change fails (the phases then judge each migration
    against the state just before it, like the rules).
    """
    from django.db.migrations.state import ProjectState

    state = ProjectState(real_apps=set(loaded.loader.unmigrated_apps))
    running: dict[str, frozenset[str]] | None = None
    created: set[str] = set()
    try:
        for key in plan:
            if key in present:
                state = loaded.graph.nodes[key].mutate_state(state, preserve=False)
        columns = _state_columns_null(state)  # once: the tables and their NOT NULL columns
        running = {table: frozenset(names) for table, names in columns.items()}
        not_null = {
            table: frozenset(c for c, null in names.items() if not null) for table, names in columns.items()
        }
        for key in plan:
            if key not in present:
                state = loaded.graph.nodes[key].mutate_state(state, preserve=False)
                created.update(t for t in _state_tables(state) if t not in running)
    except Exception:  # noqa: BLE001 - a migration Django cannot apply to the state: reported elsewhere
        return None
    return RunningRelease(source, running, frozenset(created), frozenset(present), not_null)


def _column_of(sql: str | None) -> str | None:
    """The column a DROP COLUMN / RENAME COLUMN statement is about."""
    if not sql:
        return None
    from .parsing.postgres import parse

    try:
        nodes = parse(sql)
    except Exception:  # noqa: BLE001 - unparsable: no column known
        return None
    for raw in nodes:
        node = raw.stmt
        if isinstance(node, ast.AlterTableStmt):
            for cmd in node.cmds or ():
                if cmd.subtype == AT.AT_DropColumn:
                    return str(cmd.name)
        if isinstance(node, ast.RenameStmt) and node.renameType == OBJ.OBJECT_COLUMN:
            return str(node.subname)
    return None


def affects_running_release(finding: Finding, running: RunningRelease | None) -> bool:
    """Whether a finding's hazard reaches the code serving traffic during the deploy."""
    if running is None or not finding.table:
        return True
    if not running.uses_table(finding.table):
        return False
    if finding.rule in _COLUMN_RULES:
        column = _column_of(finding.location.sql)
        if column is not None and not running.uses_column(finding.table, column):
            return False
    return True


def _state_columns(op: OperationFacts, table: str) -> tuple[str, ...] | None:
    return dict(op.state_tables).get(_bare(table))


def contract_steps(statements: Iterable[Statement]) -> list[str]:
    """Database drops of columns and tables the model state no longer has (the second
    half of a two-release removal): safe only once no old code runs."""
    found: list[str] = []
    for stmt in statements:
        node, op = stmt.node, stmt.operation
        if op.kind != "RunSQL":
            continue  # Django's own operations only drop what the state still has
        if isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE:
            table = relname(node.relation)
            known = _state_columns(op, table)
            for cmd in node.cmds or ():
                if cmd.subtype == AT.AT_DropColumn and (known is None or cmd.name not in known):
                    found.append(f"drops column {table}.{cmd.name}, which the model state no longer has")
        elif isinstance(node, ast.DropStmt) and node.removeType in (
            OBJ.OBJECT_TABLE,
            OBJ.OBJECT_VIEW,
            OBJ.OBJECT_MATVIEW,
        ):
            tables = {name for name, _ in op.state_tables}
            for obj in node.objects or ():
                name = ".".join(str(getattr(p, "sval", p)) for p in obj)
                if _bare(name) not in tables:
                    kind = {OBJ.OBJECT_TABLE: "table", OBJ.OBJECT_VIEW: "view"}.get(node.removeType, "view")
                    found.append(f"drops {kind} {name}, which the model state no longer has")
    return found


def check_steps(statements: Iterable[Statement], running: RunningRelease | None) -> list[str]:
    """CHECK constraints added to tables the running release writes: PostgreSQL enforces
    them on every new or updated row at once, NOT VALID included (NOT VALID only skips the
    existing rows), so a row the old code writes can fail with IntegrityError. Only a
    ``col IS NOT NULL`` check on a column the running release declares NOT NULL is known
    to be harmless; any other is a contract step (RULES.md SM106/SM108, recipe R5)."""
    found: list[str] = []
    created: set[str] = set()
    for stmt in statements:
        node = stmt.node
        if isinstance(node, ast.CreateStmt):
            created.add(relname(node.relation))
        if not (isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE):
            continue
        table = relname(node.relation)
        if table in created or (running is not None and not running.uses_table(table)):
            continue
        for cmd in node.cmds or ():
            con = cmd.def_
            if not (
                cmd.subtype == AT.AT_AddConstraint
                and isinstance(con, ast.Constraint)
                and con.contype == enums.ConstrType.CONSTR_CHECK
            ):
                continue
            column = not_null_test_column(con.raw_expr)
            if column is not None and running is not None and running.writes_non_null(table, column):
                continue
            name = con.conname or "(unnamed)"
            kind = "NOT VALID " if con.skip_validation else ""
            found.append(
                f"adds {kind}CHECK constraint {name} on {table}, enforced at once on the rows the "
                "running release writes"
            )
    return found


def expand_steps(statements: Iterable[Statement], created: set[str]) -> list[str]:
    """New columns and tables on the database side: the new code needs them, so they must
    run before it is deployed."""
    found: list[str] = []
    for stmt in statements:
        node = stmt.node
        if isinstance(node, ast.CreateStmt):
            found.append(f"creates table {relname(node.relation)}")
        elif isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE:
            table = relname(node.relation)
            if table in created:
                continue
            for cmd in node.cmds or ():
                if cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                    found.append(f"adds column {table}.{cmd.def_.colname}")
    return found


def _may_add_check(sql: str, kind: str) -> bool:
    upper = sql.upper()
    if "CHECK" not in upper:
        return False
    if kind == "RunSQL":
        return True
    return upper.startswith("ALTER TABLE") and "ADD CONSTRAINT" in upper


@dataclass(frozen=True)
class Classification:
    phase: Phase
    reason: str


def classify(
    migration: CollectedMigration,
    findings: Sequence[Finding],
    running: RunningRelease | None = None,
    statements: Sequence[Statement] | None = None,
) -> Classification:
    """The phase of one migration, from its findings and its database changes."""
    errors = [f for f in findings if f.suppressed is None and f.severity >= Severity.ERROR]
    blocking = [f for f in errors if affects_running_release(f, running)]
    if blocking:
        names = sorted({f"{f.rule} {f.name}" for f in blocking})
        return Classification(Phase.MUST_SPLIT, "unsafe before and after the deploy: " + ", ".join(names))
    if statements is None:
        # Contract steps are hand-written DROPs: skip parsing migrations that have none
        # (a warm run answers everything else from the cache).
        drops = any(
            "DROP" in st.sql.upper()
            for st in migration.statements
            if migration.operations[st.position].kind == "RunSQL"
        )
        # check_steps reads CHECKs added to existing tables: Django writes them as
        # ALTER TABLE ... ADD CONSTRAINT ... CHECK; hand-written SQL may say anything.
        checks = any(
            _may_add_check(st.sql, migration.operations[st.position].kind) for st in migration.statements
        )
        parse = migration.vendor == "postgresql" and (drops or checks)
        statements = parse_migration(migration) if parse else []
    statements = [s for s in statements if s.node is not None]
    contract = contract_steps(statements) + check_steps(statements, running)
    marked = (migration.phase_marker or "").strip().lower() == POST_DEPLOY_MARKER
    if contract or marked:
        created = {relname(s.node.relation) for s in statements if isinstance(s.node, ast.CreateStmt)}
        expand = expand_steps(statements, created)
        if contract and expand:
            return Classification(
                Phase.MUST_SPLIT,
                f"{contract[0]} (post-deploy) and {expand[0]} (pre-deploy) in one migration",
            )
        if contract:
            return Classification(Phase.POST_DEPLOY, contract[0])
        return Classification(Phase.POST_DEPLOY, 'marked safe_migrations_phase = "post-deploy"')
    if errors:
        return Classification(
            Phase.PRE_DEPLOY,
            f"its errors concern tables or columns the running release ({running.source if running else ''}) "
            "does not use",
        )
    if migration.vendor != "postgresql":  # lock durations are judged on PostgreSQL only
        return Classification(
            Phase.PRE_DEPLOY, "the running code keeps working (locks are not judged on this engine)"
        )
    return Classification(Phase.PRE_DEPLOY, "the running code keeps working and every lock is brief")


def assign(
    report: Report,
    collected: Sequence[CollectedMigration],
    running: RunningRelease | None = None,
) -> Report:
    """The report with a phase (and its reason) on every linted migration."""
    by_key: dict[Key, list[Finding]] = {}
    for finding in report.findings:
        by_key.setdefault((finding.location.app_label, finding.location.migration), []).append(finding)
    migrations = {m.key: m for m in collected}
    results: list[MigrationResult] = []
    for result in report.migrations:
        migration = migrations.get((result.app_label, result.name))
        if migration is None:
            results.append(result)
            continue
        # A migration the running release already has is judged against the state before it.
        against = running if running is None or migration.key not in running.present else None
        found = classify(migration, by_key.get(migration.key, []), against)
        results.append(replace(result, phase=found.phase, phase_reason=found.reason))
    return replace(report, migrations=tuple(results))


def summary_lines(report: Report) -> list[str]:
    """One line counting the linted migrations per phase (empty when none has one)."""
    counts: dict[Phase, int] = {}
    for migration in report.migrations:
        if migration.phase is not None:
            counts[migration.phase] = counts.get(migration.phase, 0) + 1
    if not counts:
        return []
    parts = [f"{counts[p]} {p.value}" for p in Phase if p in counts]
    hint = " (--plan shows the safe sequence)" if Phase.MUST_SPLIT in counts else ""
    return ["phases: " + ", ".join(parts) + hint]
