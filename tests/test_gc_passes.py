"""engine.spaced_gc_passes: the collector's settings come back after a lint."""

from __future__ import annotations

import gc

import pytest

from safe_migrations.engine import spaced_gc_passes


def test_thresholds_and_frozen_objects_are_restored_even_on_error():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with pytest.raises(RuntimeError), spaced_gc_passes(first_generation=12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
        assert gc.get_freeze_count() > frozen
        raise RuntimeError
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen
