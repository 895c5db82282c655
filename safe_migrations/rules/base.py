"""The rule contract: one hazard, one class; rules are pure functions of parsed facts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..findings import Fix, Severity

if TYPE_CHECKING:
    from ..context import MigrationContext
    from ..facts import OperationFacts
    from ..parsing.statement import Statement


@dataclass(frozen=True)
class Hit:
    """What a rule reports; the engine adds the code, location and suppressions."""

    message: str
    statement: Statement | None = None
    operation: OperationFacts | None = None
    lock: str | None = None
    table: str | None = None
    fix: Fix | None = None
    severity: Severity | None = None  # overrides the rule's default severity


class Rule:
    """Base class. Subclasses set the class attributes and override a check method.

    The class docstring is the user documentation, in four sections:
    *What it does*, *Why is this bad?*, *Example*, *Use instead*.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    vendors: ClassVar[frozenset[str]] = frozenset({"postgresql"})  # "*": every backend

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        return ()

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        return ()

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        return ()

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else cls.name
