"""Rule registry: every module in this package that defines a Rule subclass."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import Hit, Rule

__all__ = ["Hit", "Rule", "all_rules", "find_rule"]


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class, ordered by code. Adding a rule is adding a module."""
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value is not Rule:
                if value.__module__ != module.__name__ or not hasattr(value, "code"):
                    continue
                if value.code in found and found[value.code] is not value:
                    raise RuntimeError(f"rule code {value.code} defined twice")
                found[value.code] = value
    return tuple(found[code] for code in sorted(found))


def find_rule(code_or_name: str) -> type[Rule] | None:
    key = code_or_name.strip()
    for rule in all_rules():
        if key.upper() == rule.code or key.lower() == rule.name:
            return rule
    return None
