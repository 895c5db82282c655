"""Statements of other backends (SQLite, MySQL/MariaDB) through sqlparse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlparse

from .statement import TableLock


def parse_items(text: str) -> Iterator[tuple[str, Any, str | None, list[TableLock]]]:
    """(statement text, sqlparse statement, error, locks) for each statement in ``text``.

    sqlparse is a non-validating tokenizer: it never rejects SQL, so no error is
    reported, and table locks are not modelled for these backends.
    """
    for statement in sqlparse.parse(text):
        sql = str(statement).strip().rstrip(";").strip()
        meaningful = any(
            not token.is_whitespace and token.ttype not in sqlparse.tokens.Comment
            for token in statement.flatten()
        )
        if sql and meaningful:
            yield sql, statement, None, []
