"""When an app is due for a squash, now or at its current rate."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..conf import SquashThresholds
from .history import MONTH_DAYS

# Squashing a single migration gains nothing: an app needs at least this many.
MINIMUM = 2


def is_due(since_last_squash: int, age_days: int | None, thresholds: SquashThresholds) -> bool:
    """Enough migrations since the last squash, and the oldest of them old enough."""
    return (
        since_last_squash >= max(thresholds.count, MINIMUM)
        and age_days is not None
        and age_days >= thresholds.age_days
    )


def due_at(
    since_last_squash: int,
    oldest_added: datetime | None,
    rate: float,
    now: datetime,
    thresholds: SquashThresholds,
) -> datetime | None:
    """The moment both thresholds hold if migrations keep coming at ``rate`` a month.

    The count grows at the rate; the oldest unsquashed migration ages one day a day (when there
    is none yet, the first is expected one rate interval from now). None: never at this rate.
    """
    missing = max(thresholds.count, MINIMUM) - since_last_squash
    if missing <= 0:
        count_at = now
    elif rate > 0:
        count_at = now + timedelta(days=missing / rate * MONTH_DAYS)
    else:
        return None
    if oldest_added is None:
        if rate <= 0:
            return None
        oldest_added = now + timedelta(days=MONTH_DAYS / rate)
    return max(now, count_at, oldest_added + timedelta(days=thresholds.age_days))
