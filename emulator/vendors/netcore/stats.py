"""Fetch Summary Stats: counters per day, week or month in the account time zone, complete to the last
full hour of virtual time ("Get stats": "computed every hour in the account's timezone")."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from ...core import Core
from . import vocab
from .checks import midnight_ms, today
from .query import Query, rows
from .records import zone

_DAY_CACHE: dict[tuple, dict[str, int]] = {}  # complete days only: a pure function of seed and window
_CACHE_MAX = 4096


def cutoff_ms(core: Core) -> int:
    """The last full hour in the account time zone (offsets like +05:30 make it hh:30 UTC)."""
    now = datetime.fromtimestamp(core.clock.now(), zone(core.settings.netcore_timezone))
    return int(now.replace(minute=0, second=0, microsecond=0).timestamp() * 1000)


def empty() -> dict[str, int]:
    return {name: 0 for name in vocab.COUNTERS}


def counters(by_status: Counter) -> dict[str, int]:
    return {name: sum(by_status[s] for s in vocab.COUNTER_MEMBERS[name]) for name in vocab.COUNTERS}


def day_counters(core: Core, day: date, cutoff: int) -> dict[str, int]:
    start, end = midnight_ms(core, day), midnight_ms(core, day + timedelta(days=1))
    hi = min(end, cutoff)
    if hi <= start:
        return empty()
    key = (core.settings.seed, core.settings.scale, core.settings.netcore_timezone, start, end)
    if hi == end and key in _DAY_CACHE:
        return _DAY_CACHE[key]
    result = counters(Counter(row.status for row in rows(core, Query(start, end), until_ms=hi)))
    if hi == end:
        if len(_DAY_CACHE) >= _CACHE_MAX:
            _DAY_CACHE.clear()
        _DAY_CACHE[key] = result
    return result


def bucket_start(day: date, aggregated_by: str) -> date:
    if aggregated_by == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday (emulator choice)
    if aggregated_by == "month":
        return day.replace(day=1)
    return day


def summary(core: Core, first: date, last: date, aggregated_by: str, offset: int, limit: int) -> dict[str, Any]:
    """`data` of the stats answer: datewise buckets (keyed by each bucket's first day inside the range),
    paged by the 1-based offset and limit, and totals over the whole range."""
    cutoff = cutoff_ms(core)
    last_counted = min(last, today(core))
    buckets: dict[str, dict[str, int]] = {}
    total = empty()
    day = first
    while day <= last_counted:  # days after today have no buckets: there is nothing to count yet
        key = max(bucket_start(day, aggregated_by), first).isoformat()
        counts = day_counters(core, day, cutoff)
        bucket = buckets.setdefault(key, empty())
        for name, n in counts.items():
            bucket[name] += n
            total[name] += n
        day += timedelta(days=1)
    keys = list(buckets)
    page = keys[offset - 1: offset - 1 + limit]
    return {
        "startdate": first.isoformat(), "enddate": last.isoformat(), "aggregated_by": aggregated_by,
        "timezone": core.settings.netcore_timezone,
        "complete_until": datetime.fromtimestamp(cutoff / 1000, zone(core.settings.netcore_timezone))
        .strftime("%Y-%m-%d %H:%M:%S"),
        "offset": offset, "limit": limit, "count": len(keys),
        "datewise": {k: buckets[k] for k in page},
        "total": total,
    }
