"""Readers shared by the data-migration rules (SM3xx): RunPython source, DML, transactions."""

from __future__ import annotations

import ast as pyast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pglast import ast, enums

from ..context import MigrationContext
from ..facts import OperationFacts
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement

NOOP = "django.db.migrations.operations.special.RunPython.noop"


# --------------------------------------------------------------------------- pglast nodes


def walk(node: Any) -> Iterator[Any]:
    """Every pglast node under ``node`` (itself included)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, attr) for attr in item)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


DML = (ast.UpdateStmt, ast.DeleteStmt, ast.InsertStmt, ast.MergeStmt)
# Statements that only change session settings or read: never DDL.
_NOT_DDL = (
    *DML,
    ast.VariableSetStmt,
    ast.VariableShowStmt,
    ast.ConstraintsSetStmt,
    ast.TransactionStmt,
    ast.SelectStmt,
    ast.DoStmt,
    ast.CallStmt,
    ast.ExplainStmt,
    ast.LockStmt,
)


def is_dml(stmt: Statement) -> bool:
    return isinstance(stmt.node, DML)


def is_ddl(stmt: Statement) -> bool:
    """A schema change: anything that is not DML, a SET, a read or a transaction command."""
    return stmt.node is not None and not isinstance(stmt.node, _NOT_DDL)


def dml_table(node: Any) -> str | None:
    relation = getattr(node, "relation", None)
    return relname(relation) if relation is not None else None


def pre_existing_locks(stmt: Statement, ctx: MigrationContext, at_least: Lock) -> list[tuple[str, Lock]]:
    """(table, lock) this statement takes on tables not created earlier in the migration."""
    return [
        (lock.table, lock.lock)
        for lock in stmt.locks
        if lock.lock >= at_least and not ctx.is_new_table(lock.table, stmt)
    ]


# --------------------------------------------------------------------------- transactions


def op_transaction(op: OperationFacts, ctx: MigrationContext) -> int | None:
    """The transaction an operation without statements (RunPython) runs in; None: autocommit.

    Mirrors Migration.apply: an atomic migration is one transaction; in a non-atomic
    one an operation with atomic=True gets its own (same numbering as
    MigrationContext.transaction_of).
    """
    if ctx.migration.atomic:
        return 0
    if op.atomic:
        return -1 - op.position
    return None


def is_noop_runpython(op: OperationFacts) -> bool:
    return op.runpython is not None and op.runpython.code == NOOP


def timeline(ctx: MigrationContext) -> list[Statement | OperationFacts]:
    """Statements and RunPython operations in execution order (deferred SQL last)."""
    out: list[Statement | OperationFacts] = []
    by_position: dict[int, list[Statement]] = {}
    for stmt in ctx.statements:
        if not stmt.deferred:
            by_position.setdefault(stmt.operation.position, []).append(stmt)
    for op in ctx.operations:
        if op.runpython is not None:
            out.append(op)
        out.extend(by_position.get(op.position, ()))
    out.extend(s for s in ctx.statements if s.deferred)
    return out


# --------------------------------------------------------------------------- UPDATE/DELETE batches


def _column_name(node: Any) -> str | None:
    if isinstance(node, ast.ColumnRef):
        last = node.fields[-1] if node.fields else None
        return getattr(last, "sval", None)
    if isinstance(node, ast.TypeCast):
        return _column_name(node.arg)
    return None


def _is_constant(node: Any) -> bool:
    if isinstance(node, ast.TypeCast):
        return _is_constant(node.arg)
    return isinstance(node, (ast.A_Const, ast.ParamRef))


def _conjuncts(where: Any) -> list[Any]:
    if isinstance(where, ast.BoolExpr) and where.boolop == enums.BoolExprType.AND_EXPR:
        out = []
        for arg in where.args or ():
            out += _conjuncts(arg)
        return out
    return [where]


KEY_COLUMNS = ("id", "pk", "ctid")


def batch_bound(where: Any) -> str | None:
    """Why this WHERE touches a bounded slice of the table, or None when it does not.

    Bounded: a sub-select with LIMIT; BETWEEN constants; a key column compared
    with constants on both sides, equal to a constant or in a list of them.
    Anything else (no WHERE, IS NULL, one-sided ranges, other columns) can match
    the whole table.
    """
    if where is None:
        return None
    for node in walk(where):
        if isinstance(node, ast.SelectStmt) and node.limitCount is not None:
            return "a sub-select with LIMIT"
    lower: set[str] = set()
    upper: set[str] = set()
    for conj in _conjuncts(where):
        if not isinstance(conj, ast.A_Expr):
            continue
        kind = conj.kind
        column = _column_name(conj.lexpr)
        if column is None:
            continue
        if kind in (enums.A_Expr_Kind.AEXPR_BETWEEN, enums.A_Expr_Kind.AEXPR_BETWEEN_SYM):
            if all(_is_constant(v) for v in conj.rexpr or ()):
                return f"{column} BETWEEN constants"
            continue
        name = conj.name[-1].sval if conj.name else ""
        if kind == enums.A_Expr_Kind.AEXPR_IN and column in KEY_COLUMNS:
            return f"{column} IN a list"
        if kind == enums.A_Expr_Kind.AEXPR_OP_ANY and column in KEY_COLUMNS and name == "=":
            return f"{column} = ANY(...)"
        if kind != enums.A_Expr_Kind.AEXPR_OP or not _is_constant(conj.rexpr):
            continue
        if name == "=" and column in KEY_COLUMNS:
            return f"{column} = a constant"
        if name in (">", ">="):
            lower.add(column)
        elif name in ("<", "<="):
            upper.add(column)
    both = sorted(lower & upper)
    return f"a range on {both[0]}" if both else None


# --------------------------------------------------------------------------- RunPython source


MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
_ROW_WRITES = frozenset({"save", "delete"})
_KEYS = frozenset({"pk", "id"})
# Lookups that can match any number of rows; a plain `field=value` (or `__in`) is
# treated as targeted: it usually names a few rows.
_WIDE_LOOKUPS = frozenset(
    {
        "isnull", "gt", "gte", "lt", "lte", "range", "contains", "icontains", "startswith",
        "istartswith", "endswith", "iendswith", "regex", "iregex", "date", "year", "iso_year",
        "month", "day", "week", "week_day", "iso_week_day", "quarter", "time", "hour", "minute",
        "second", "search", "overlap", "contained_by", "has_key", "has_keys", "has_any_keys",
    }
)  # fmt: skip


def _lookup(key: str) -> tuple[str, str]:
    """(first field, lookup) of a filter keyword; the lookup is '' for plain equality."""
    parts = key.split("__")
    last = parts[-1] if len(parts) > 1 and parts[-1] in _WIDE_LOOKUPS else ""
    return parts[0], last


@dataclass(frozen=True)
class Chain:
    """A queryset expression: Model.objects.filter(...).exclude(...)[...]."""

    root: str
    through_manager: bool
    methods: tuple[str, ...]
    filters: tuple[tuple[str, pyast.expr], ...]  # keyword lookups of filter()/get()
    positional: tuple[pyast.expr, ...]  # Q objects and the like
    sliced: bool

    def targeted(self) -> bool:
        """Does the queryset select a bounded set of rows (by key, equality or slice)?"""
        if self.sliced or "get" in self.methods:
            return True
        keys = {k for k, _ in self.filters}
        for key in keys:
            field, lookup = _lookup(key)
            if not lookup or (field in _KEYS and lookup == "range"):
                return True
        if _closed_key_range(keys):
            return True
        return bool(self.positional) and all(_q_targeted(p) for p in self.positional)

    def key_bounded(self) -> bool:
        """Bounded the way batch_bound bounds SQL: by the primary key (equal to a value, in
        a list, a closed range), a single get() or a slice. ``filter(status="a")`` is not:
        like ``UPDATE ... WHERE status = 'a'`` it can match the whole table."""
        if self.sliced or "get" in self.methods:
            return True
        keys = {k for k, _ in self.filters}
        if any(_key_lookup(k) in ("exact", "in", "range") for k in keys):
            return True
        if _closed_key_range(keys):
            return True
        return bool(self.positional) and all(_q_key_bounded(p) for p in self.positional)


def _closed_key_range(keys: set[str]) -> bool:
    """Whether filter keywords bound the primary key from both sides (pk__gte=a, pk__lt=b)."""
    for key_field in _KEYS:
        has_low = any(k in keys for k in (f"{key_field}__gt", f"{key_field}__gte"))
        has_high = any(k in keys for k in (f"{key_field}__lt", f"{key_field}__lte"))
        if has_low and has_high:
            return True
    return False


def _key_lookup(key: str) -> str | None:
    """The lookup of a filter keyword on the primary key ('exact' when plain), else None."""
    field, _, lookup = key.partition("__")
    return (lookup or "exact") if field in _KEYS else None


def _q_key_bounded(expr: pyast.expr) -> bool:
    keywords = [kw for node in pyast.walk(expr) if isinstance(node, pyast.Call) for kw in node.keywords]
    return bool(keywords) and all(
        kw.arg is not None and _key_lookup(kw.arg) in ("exact", "in") for kw in keywords
    )


def _q_targeted(expr: pyast.expr) -> bool:
    keywords = [kw for node in pyast.walk(expr) if isinstance(node, pyast.Call) for kw in node.keywords]
    if not keywords:
        return True  # an expression we cannot read: do not guess it is unbounded
    return all(kw.arg is not None and not _lookup(kw.arg)[1] for kw in keywords)


@dataclass(frozen=True)
class Write:
    """A statement of a RunPython function that changes rows."""

    kind: str  # update, delete, bulk_update, row-loop
    line: int
    code: str
    model: str  # the model variable or class name
    targeted: bool  # touches a bounded set of rows per call
    in_loop: bool  # runs once per iteration of a loop
    call: pyast.Call | None = None
    chain: Chain | None = None

    @property
    def key_bounded(self) -> bool:
        """Touches rows picked by primary key only, like an UPDATE/DELETE batch_bound
        accepts (``targeted`` also accepts equality on any field). A bulk_update
        writes every object it is given: not bounded."""
        return self.kind in ("update", "delete") and self.chain is not None and self.chain.key_bounded()


@dataclass(frozen=True)
class ModelImport:
    line: int
    code: str
    names: tuple[str, ...]  # model names it brings in (may be empty)
    app_label: str | None  # app of the models module, None when relative or unknown
    kind: str  # import, get_user_model, global


@dataclass
class PythonFacts:
    """What a RunPython forwards function does, read with the ast module."""

    name: str
    args: tuple[str, ...]
    models: dict[str, tuple[str, str]] = field(default_factory=dict)  # var -> (app, Model)
    writes: list[Write] = field(default_factory=list)
    creates: int = 0  # create()/get_or_create()/bulk_create() calls
    reads_all: bool = False  # iterates a whole queryset
    imports: list[ModelImport] = field(default_factory=list)

    @property
    def is_light_by_key(self) -> bool:
        """Only creates rows or changes rows picked by primary key, outside loops: what a
        RunSQL INSERT ... VALUES or an UPDATE/DELETE that batch_bound accepts does."""
        return not self.reads_all and all(w.key_bounded and not w.in_loop for w in self.writes)

    @property
    def writes_rows(self) -> bool:
        return bool(self.writes or self.creates)

    def tables(self) -> set[str]:
        """Default table names of the models it gets from apps (app_model)."""
        return {f"{app}_{model}".lower() for app, model in self.models.values()}


def _string(node: pyast.expr) -> str | None:
    return node.value if isinstance(node, pyast.Constant) and isinstance(node.value, str) else None


def _get_model_target(call: pyast.Call) -> tuple[str, str] | None:
    if not (isinstance(call.func, pyast.Attribute) and call.func.attr == "get_model"):
        return None
    values = [_string(a) for a in call.args]
    kw = {k.arg: _string(k.value) for k in call.keywords if k.arg}
    if len(values) == 1 and values[0] and "." in values[0]:
        label, _, name = values[0].partition(".")
        return label, name
    app = values[0] if values else kw.get("app_label")
    model = values[1] if len(values) > 1 else kw.get("model_name")
    if app and model:
        return app, model
    return None


def _models_module_app(module: str) -> str | None:
    """The app label of an imported models module, '' for a relative one, None if not one."""
    parts = module.split(".")
    if "models" not in parts:
        return None
    if module.startswith("django.db"):
        return None  # django.db.models: fields, expressions, not an app's models
    index = parts.index("models")
    return parts[index - 1] if index > 0 else ""


class _Reader(pyast.NodeVisitor):
    def __init__(self, facts: PythonFacts, assigns: dict[str, pyast.expr], local: set[str]) -> None:
        self.facts = facts
        self.assigns = assigns
        self.local = local
        self.loops = 0

    def chain(self, expr: pyast.expr, depth: int = 0) -> Chain | None:
        methods: list[str] = []
        filters: list[tuple[str, pyast.expr]] = []
        positional: list[pyast.expr] = []
        sliced = manager = False
        node: pyast.expr = expr
        while True:
            target = _get_model_target(node) if isinstance(node, pyast.Call) else None
            if target is not None:
                # apps.get_model("app", "Model").objects...: the historical model inline
                self.facts.models.setdefault(target[1], target)
                return Chain(target[1], manager, tuple(methods), tuple(filters), tuple(positional), sliced)
            if isinstance(node, pyast.Call) and isinstance(node.func, pyast.Attribute):
                method = node.func.attr
                methods.append(method)
                if method in ("filter", "get"):
                    filters += [(k.arg, k.value) for k in node.keywords if k.arg]
                    positional += node.args
                node = node.func.value
            elif isinstance(node, pyast.Subscript):
                sliced = True
                node = node.value
            elif isinstance(node, pyast.Attribute):
                if node.attr in MANAGERS:
                    manager = True
                elif isinstance(node.value, pyast.Name) and node.value.id in self.facts.models:
                    manager = True  # a custom manager of a historical model
                node = node.value
            elif isinstance(node, pyast.Name):
                if node.id in self.assigns and depth < 4 and node.id not in self.facts.models:
                    inner = self.chain(self.assigns[node.id], depth + 1)
                    if inner is None:
                        return None
                    return Chain(
                        inner.root,
                        inner.through_manager or manager,
                        (*methods, *inner.methods),
                        (*filters, *inner.filters),
                        (*positional, *inner.positional),
                        sliced or inner.sliced,
                    )
                if not manager:
                    return None
                return Chain(node.id, manager, tuple(methods), tuple(filters), tuple(positional), sliced)
            else:
                return None

    def _loop(self, node: pyast.For | pyast.While) -> None:
        if isinstance(node, pyast.For):
            self.visit(node.iter)
            chain = self.chain(node.iter)
            if chain is not None and not chain.targeted():
                self.facts.reads_all = True
                target = node.target.id if isinstance(node.target, pyast.Name) else None
                saves = [
                    call
                    for stmt in node.body
                    for call in pyast.walk(stmt)
                    if isinstance(call, pyast.Call)
                    and isinstance(call.func, pyast.Attribute)
                    and call.func.attr in _ROW_WRITES
                    and isinstance(call.func.value, pyast.Name)
                    and call.func.value.id == target
                ]
                if saves:
                    self.facts.writes.append(
                        Write(
                            "row-loop",
                            node.lineno,
                            f"for {pyast.unparse(node.target)} in {pyast.unparse(node.iter)}: "
                            f"... {pyast.unparse(saves[0])}",
                            chain.root,
                            targeted=True,
                            in_loop=True,
                            chain=chain,
                        )
                    )
        else:
            self.visit(node.test)
        self.loops += 1
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)
        self.loops -= 1

    def visit_For(self, node: pyast.For) -> None:
        self._loop(node)

    def visit_AsyncFor(self, node: pyast.AsyncFor) -> None:
        self.generic_visit(node)

    def visit_While(self, node: pyast.While) -> None:
        self._loop(node)

    def visit_Import(self, node: pyast.Import) -> None:
        for alias in node.names:
            app = _models_module_app(alias.name)
            if app is not None:
                self.facts.imports.append(
                    ModelImport(node.lineno, pyast.unparse(node), (), app or None, "import")
                )

    def visit_ImportFrom(self, node: pyast.ImportFrom) -> None:
        module = node.module or ""
        names = tuple(a.name for a in node.names)
        app = _models_module_app(module)
        if app is None and "models" in names and not module.startswith("django.db"):
            # from shop import models
            app = module.rsplit(".", 1)[-1] if module else ""
            names = ()
        if app is None:
            return
        if node.level and not app:
            app = ""
        self.facts.imports.append(ModelImport(node.lineno, pyast.unparse(node), names, app or None, "import"))

    def visit_Call(self, node: pyast.Call) -> None:
        func = node.func
        if isinstance(func, pyast.Name) and func.id == "get_user_model":
            self.facts.imports.append(
                ModelImport(node.lineno, pyast.unparse(node), ("User",), None, "get_user_model")
            )
        if isinstance(func, pyast.Attribute):
            method = func.attr
            if method in ("create", "get_or_create", "update_or_create", "bulk_create"):
                if self.chain(func.value) is not None:
                    self.facts.creates += 1
            elif method in ("update", "delete", "bulk_update"):
                chain = self.chain(func.value)
                if chain is not None:
                    if method == "bulk_update":
                        targeted = any(k.arg == "batch_size" for k in node.keywords)
                    else:
                        targeted = chain.targeted()
                    self.facts.writes.append(
                        Write(
                            method,
                            node.lineno,
                            pyast.unparse(node),
                            chain.root,
                            targeted=targeted,
                            in_loop=self.loops > 0,
                            call=node,
                            chain=chain,
                        )
                    )
            receiver = func.value
            if (
                isinstance(receiver, pyast.Attribute)
                and receiver.attr in MANAGERS
                and isinstance(receiver.value, pyast.Name)
            ):
                name = receiver.value.id
                if name not in self.local and name not in self.facts.models:
                    if not any(i.kind == "global" and name in i.names for i in self.facts.imports):
                        self.facts.imports.append(
                            ModelImport(node.lineno, pyast.unparse(receiver), (name,), None, "global")
                        )
            elif (
                isinstance(receiver, pyast.Attribute)
                and receiver.attr in MANAGERS
                and isinstance(receiver.value, pyast.Attribute)
            ):
                # `import shop.models` at module level, then `shop.models.Customer.objects`.
                module, _, name = pyast.unparse(receiver.value).rpartition(".")
                root = module.split(".")[0]
                app = _models_module_app(module)
                if app is not None and root not in self.local:
                    if not any(i.kind == "global" and name in i.names for i in self.facts.imports):
                        self.facts.imports.append(
                            ModelImport(node.lineno, pyast.unparse(receiver), (name,), app or None, "global")
                        )
        self.generic_visit(node)


@lru_cache(maxsize=256)
def python_facts(source: str | None) -> PythonFacts | None:
    """Read a RunPython function's source; None when there is none or it does not parse
    (a lambda inside a longer expression, a C function)."""
    if not source:
        return None
    try:
        tree = pyast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    func: pyast.FunctionDef | pyast.AsyncFunctionDef | pyast.Lambda | None = next(
        (n for n in tree.body if isinstance(n, (pyast.FunctionDef, pyast.AsyncFunctionDef))),
        None,
    )
    if func is None:
        # inspect returns the whole line for a lambda: the first one is the forwards code
        func = next((n for n in pyast.walk(tree) if isinstance(n, pyast.Lambda)), None)
    if func is None:
        return None
    args = tuple(a.arg for a in [*func.args.posonlyargs, *func.args.args])
    facts = PythonFacts(getattr(func, "name", "<lambda>"), args)
    assigns: dict[str, pyast.expr] = {}
    local: set[str] = set(args)
    for node in pyast.walk(func):
        if isinstance(node, pyast.Assign):
            for target in node.targets:
                if isinstance(target, pyast.Name):
                    local.add(target.id)
                    assigns[target.id] = node.value
                    if isinstance(node.value, pyast.Call):
                        found = _get_model_target(node.value)
                        if found is not None:
                            facts.models[target.id] = found
        elif isinstance(node, (pyast.For, pyast.comprehension)) and isinstance(node.target, pyast.Name):
            local.add(node.target.id)
        elif isinstance(node, (pyast.FunctionDef, pyast.AsyncFunctionDef)) and node is not func:
            local.add(node.name)
        elif isinstance(node, (pyast.Import, pyast.ImportFrom)):
            local.update((a.asname or a.name).split(".")[0] for a in node.names)
    reader = _Reader(facts, assigns, local)
    for stmt in func.body if isinstance(func.body, list) else [func.body]:
        reader.visit(stmt)
    return facts


# --------------------------------------------------------------------------- code PostgreSQL runs


# Built-in functions migrations call for bookkeeping; none of them runs DDL.
BUILTIN_FUNCTIONS = frozenset(
    {
        "setval", "nextval", "currval", "lastval", "set_config", "current_setting",
        "pg_get_serial_sequence", "pg_advisory_lock", "pg_advisory_unlock",
        "pg_advisory_xact_lock", "pg_try_advisory_lock", "pg_try_advisory_xact_lock",
        "pg_advisory_unlock_all", "pg_sleep", "pg_notify", "now", "clock_timestamp",
        "statement_timestamp", "transaction_timestamp", "count", "max", "min", "sum", "avg",
        "coalesce", "greatest", "least", "nullif", "to_regclass", "format", "concat", "lower",
        "upper", "length", "char_length", "substring", "replace", "trim", "array_agg",
        "string_agg", "row_number", "gen_random_uuid", "uuid_generate_v4", "md5", "version",
        "current_database", "current_schema", "txid_current", "pg_current_xact_id",
        "pg_relation_size", "pg_total_relation_size", "pg_size_pretty", "pg_table_size",
        "pg_indexes_size", "pg_cancel_backend", "pg_terminate_backend", "pg_reload_conf",
        "round", "floor", "ceil", "abs", "random", "to_char", "to_timestamp", "to_date",
        "date_trunc", "extract", "jsonb_build_object", "json_build_object", "jsonb_set",
        "array_length", "unnest", "generate_series", "exists",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Routine:
    """What a DO block or function body runs, as far as it can be read."""

    statements: tuple[Any, ...] = ()  # pglast nodes of its static SQL
    texts: tuple[str, ...] = ()
    dynamic: bool = False  # EXECUTE of a string built at run time
    unreadable: str | None = None  # why the body could not be read
    calls: tuple[str, ...] = ()  # functions it calls whose bodies are unknown

    def ddl(self) -> list[tuple[Any, str]]:
        return [
            (n, t) for n, t in zip(self.statements, self.texts, strict=True) if not isinstance(n, _NOT_DDL)
        ]


def called_functions(node: Any) -> list[str]:
    """Functions a SELECT/CALL/PERFORM calls that are not well-known built-ins."""
    out = []
    for sub in walk(node):
        if isinstance(sub, ast.FuncCall):
            names = [n.sval for n in sub.funcname or ()]
            if not names:
                continue
            if len(names) > 1 and names[0] == "pg_catalog":
                continue
            if len(names) == 1 and names[0].lower() in BUILTIN_FUNCTIONS:
                continue
            out.append(".".join(names))
    return out


def _plpgsql(text: str) -> Routine:
    import pglast

    try:
        tree = pglast.parse_plpgsql(text)
    except Exception as exc:  # noqa: BLE001 - pglast raises ParseError and others
        return Routine(unreadable=str(exc))
    texts: list[str] = []
    dynamic = False
    stack: list[Any] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "PLpgSQL_stmt_dynexecute" and _constant_query(value) is not None:
                    texts.append(_constant_query(value) or "")  # EXECUTE 'ALTER TABLE ...'
                    continue
                if key in ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"):
                    dynamic = True
                elif key == "dynquery":
                    dynamic = True
                elif key in ("sqlstmt", "expr") and isinstance(value, dict):
                    expr = value.get("PLpgSQL_expr", {})
                    query = expr.get("query")
                    if isinstance(query, str) and expr.get("parseMode", 0) == 0:  # a statement
                        texts.append(query)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return _sql_routine(texts, dynamic)


def _constant_query(stmt: Any) -> str | None:
    """The SQL of ``EXECUTE 'constant string'`` (no concatenation, no USING)."""
    if not isinstance(stmt, dict) or stmt.get("params"):
        return None
    query = (stmt.get("query") or {}).get("PLpgSQL_expr", {}).get("query")
    if not isinstance(query, str):
        return None
    text = query.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1].replace("''", ""):
        return text[1:-1].replace("''", "'")
    return None


def _sql_routine(texts: list[str], dynamic: bool = False) -> Routine:
    import pglast

    nodes: list[Any] = []
    kept: list[str] = []
    calls: list[str] = []
    for text in texts:
        try:
            parsed = pglast.parse_sql(text)
        except Exception:  # noqa: BLE001 - an expression, not a statement
            continue
        for raw in parsed:
            nodes.append(raw.stmt)
            kept.append(text if len(parsed) == 1 else _deparse_safe(raw.stmt))
            if isinstance(raw.stmt, (ast.SelectStmt, ast.CallStmt)):
                calls += called_functions(raw.stmt)
    return Routine(tuple(nodes), tuple(kept), dynamic, None, tuple(calls))


def _deparse_safe(node: Any) -> str:
    from ._ast import deparse

    try:
        return deparse(node)
    except Exception:  # noqa: BLE001 - some nodes cannot be deparsed
        return type(node).__name__


def _option(options: Any, name: str) -> Any:
    for opt in options or ():
        if getattr(opt, "defname", None) == name:
            return opt.arg
    return None


def _text(arg: Any) -> str | None:
    if isinstance(arg, ast.String):
        return arg.sval
    if isinstance(arg, (list, tuple)) and arg and isinstance(arg[0], ast.String):
        return arg[0].sval
    return None


def do_block(node: Any) -> Routine:
    language = (_text(_option(node.args, "language")) or "plpgsql").lower()
    body = _text(_option(node.args, "as")) or ""
    if language != "plpgsql":
        return Routine(unreadable=f"the block is in {language}")
    tag = "$sm$"
    while tag in body:
        tag = tag[:-1] + "x$"
    return _plpgsql(f"CREATE FUNCTION safe_migrations_do() RETURNS void LANGUAGE plpgsql AS {tag}{body}{tag}")


def function_body(stmt: Statement) -> Routine:
    """The body of a CREATE FUNCTION/PROCEDURE statement."""
    node = stmt.node
    language = (_text(_option(node.options, "language")) or "sql").lower()
    if node.sql_body:
        inner = node.sql_body[0] if isinstance(node.sql_body[0], (list, tuple)) else node.sql_body
        return Routine(tuple(inner), tuple(_deparse_safe(n) for n in inner))
    body = _text(_option(node.options, "as"))
    if language == "plpgsql":
        return _plpgsql(stmt.sql)
    if language == "sql" and body is not None:
        return _sql_routine([body])
    return Routine(unreadable=f"the function is written in {language}")


def routines_created(ctx: MigrationContext, before: Statement) -> dict[str, Routine]:
    """Functions and procedures created earlier in the migration, by bare name."""
    out: dict[str, Routine] = {}
    for stmt in ctx.statements[: before.index]:
        node: Any = stmt.node
        if isinstance(node, ast.CreateFunctionStmt) and node.funcname:
            out[str(node.funcname[-1].sval)] = function_body(stmt)
    return out
