"""Split collected SQL into statements and parse them (pglast or sqlparse)."""

from .statement import Lock, Statement, parse_migration

__all__ = ["Lock", "Statement", "parse_migration"]
