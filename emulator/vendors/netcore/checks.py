"""Request checks: the contract's rules (one source of truth), then what a schema cannot say: real
calendar dates, date order, the 90-day retention, and aggregates that must come alone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import request

from ...contracts import contract
from ...core import Core
from . import vocab
from .errors import NetcoreError, invalid
from .records import zone

CONTRACT_FILE = "netcore-email.openapi.yaml"


def checked(method: str, path: str, **path_values: str) -> dict[str, Any]:
    """Values coerced by the contract; a 400 envelope naming every field and rule otherwise."""
    op = contract(CONTRACT_FILE).op(method, path)
    body = request.get_data(cache=True) if op.body_schema is not None else None
    values, issues = op.check(query=request.args, path_values=path_values, headers=request.headers, body=body)
    if issues:
        errors = [{"field": i.field, "message": i.message} for i in issues]
        raise NetcoreError(400, "Invalid input: " + "; ".join(map(str, issues)), errors)
    if op.body_schema is not None:
        values.update(values.pop("__body__", {}) or {})
    return values


def today(core: Core) -> date:
    """Today in the account time zone (stats and dates are the account's, "Get stats")."""
    return datetime.fromtimestamp(core.clock.now(), zone(core.settings.netcore_timezone)).date()


def midnight_ms(core: Core, day: date) -> int:
    moment = datetime(day.year, day.month, day.day, tzinfo=zone(core.settings.netcore_timezone))
    return int(moment.timestamp() * 1000)


def end_of_day_ms(core: Core, last: date) -> int:
    """The end of `last` (exclusive), for a window; far-future end dates are capped (nothing happens there)."""
    last = min(last, today(core) + timedelta(days=min(3660, (date.max - today(core)).days)))
    if last == date.max:  # the calendar's last day has no next midnight to name
        return midnight_ms(core, last) + 86_400_000
    return midnight_ms(core, last + timedelta(days=1))


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, f"must be a date YYYY-MM-DD, got {value!r}") from None


def parse_datetime(core: Core, value: str, field: str) -> int:
    """v6 date-time "YYYY-MM-DD HH:mm:ss" in the account time zone, to epoch ms."""
    try:
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise invalid(field, f"must be a date-time YYYY-MM-DD HH:mm:ss, got {value!r}") from None
    return int(moment.replace(tzinfo=zone(core.settings.netcore_timezone)).timestamp() * 1000)


def oldest_day(core: Core) -> date:
    return today(core) - timedelta(days=core.settings.netcore_retention_days)


def date_range(core: Core, start: str, end: str | None, start_field: str, end_field: str) -> tuple[date, date]:
    """startdate and enddate (default today), in order and inside the retention window."""
    first = parse_date(start, start_field)
    last = parse_date(end, end_field) if end else today(core)
    oldest = oldest_day(core)
    if first < oldest:
        # "Get stats" (get_stats): "events data only for the last 90 days"
        raise invalid(start_field, f"must be within the last {core.settings.netcore_retention_days} days "
                                   f"(on or after {oldest.isoformat()}): older event data is not retained")
    if first > today(core):
        raise invalid(start_field, f"must not be in the future (today is {today(core).isoformat()})")
    if last < first:
        raise invalid(end_field, f"must not be before {start_field} ({first.isoformat()})")
    return first, last


def events_filter(values: list[str] | None, field: str) -> frozenset[str]:
    """The total_* aggregates "must be passed alone" ("Fetch Event Logs"); combining them is an error."""
    if values and len(values) > 1 and any(v in vocab.AGGREGATES for v in values):
        raise invalid(field, "an aggregate event (total_requested, total_delivered, total_opened, "
                             "total_clicked) must be passed alone")
    return vocab.statuses_for(values)


def limit_v51(core: Core, values: dict[str, Any]) -> int:
    """v5.1 limit: default and maximum are configurable, the sources disagree ("Fetch Event Logs" and the
    Pepipost SDKs)."""
    limit = values.get("limit", core.settings.netcore_v51_limit_default)
    if limit > core.settings.netcore_v51_limit_max:
        raise invalid("limit", f"must be <= {core.settings.netcore_v51_limit_max}, got {limit}")
    return limit
