"""Linting one migration alone (a selection, --since) must work for every fixture migration.

Offline, a partial run cannot see the SQL of the migrations before it: the catalogue
then comes from the model state, the hand-written SQL of earlier migrations and the
cache. Every migration must still produce SQL, never an error.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from safe_migrations.loading import load_graph
from safe_migrations.offline import offline_connection
from safe_migrations.sqlcollect import MigrationCollector, walk


def _collect(loaded, plan, selected):
    collector = MigrationCollector(offline_connection("default", 15), None)
    return list(
        walk(loaded.graph, plan, selected, collector, loaded.files, real_apps=loaded.loader.unmigrated_apps)
    )


def test_every_migration_can_be_linted_alone():
    labels = {"testapp"} | ({"opsapp"} if settings.OPSAPP else set())
    loaded = load_graph(None)
    plan = loaded.full_plan()
    keys = [k for k in plan if k[0] in labels]
    assert len(keys) >= (60 if settings.OPSAPP else 2)
    failures = []
    for key in keys:
        (item,) = _collect(loaded, plan, {key})
        if item.error is not None:
            failures.append(f"{key}: {item.error.message}")
    assert failures == []


@pytest.mark.parametrize("index", [0, 1])
def test_cached_history_makes_a_partial_run_exact(index):
    """With the earlier migrations' SQL replayed (as the cache does), names after renames are right."""
    if not settings.OPSAPP:
        pytest.skip("the operations fixture needs Django 6.1")
    loaded = load_graph(None)
    plan = loaded.full_plan()
    full = {i.key: i.collected for i in _collect(loaded, plan, set(plan))}
    # migrations whose SQL depends on names left by earlier renames
    key = [("opsapp", "0014_alter_after_model_rename"), ("opsapp", "0016_alter_after_table_rename")][index]
    history = {k: full[k] for k in plan[: plan.index(key)]}
    collector = MigrationCollector(offline_connection("default", 15), None)
    (item,) = list(
        walk(
            loaded.graph,
            plan,
            {key},
            collector,
            loaded.files,
            real_apps=loaded.loader.unmigrated_apps,
            replay=history,
        )
    )
    assert item.collected.sqlmigrate_lines() == full[key].sqlmigrate_lines()
