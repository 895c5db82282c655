"""django.contrib.postgres indexes and constraints usable without the app installed.

tests/settings.py does not list "django.contrib.postgres" in INSTALLED_APPS, so
the stock classes fail system check postgres.E005. These thin subclasses skip
that one check and deconstruct to the stock import path, so migrations (and the
migration state they build) use the stock classes while the models use these;
``__eq__`` treats a subclass instance and its stock twin as the same thing so
the autodetector sees no change.
"""

from django.contrib.postgres import constraints as pg_constraints
from django.contrib.postgres import indexes as pg_indexes


def _stock(base):
    class Compat(base):
        def _check_postgres_installed(self, *args):
            return []

        def deconstruct(self):
            _path, args, kwargs = super().deconstruct()
            return f"{base.__module__}.{base.__name__}", args, kwargs

        def __eq__(self, other):
            if isinstance(other, base):
                return self.deconstruct() == other.deconstruct()
            return NotImplemented

        __hash__ = base.__hash__

    Compat.__name__ = Compat.__qualname__ = base.__name__
    return Compat


BrinIndex = _stock(pg_indexes.BrinIndex)
BTreeIndex = _stock(pg_indexes.BTreeIndex)
GinIndex = _stock(pg_indexes.GinIndex)
GistIndex = _stock(pg_indexes.GistIndex)
HashIndex = _stock(pg_indexes.HashIndex)
ExclusionConstraint = _stock(pg_constraints.ExclusionConstraint)
