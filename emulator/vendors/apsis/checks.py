"""Request checks: the contract's rules (one source of truth) plus the rules a schema cannot say."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request

from ...clock import parse_rfc3339
from ...contracts import contract
from ...core import Core
from ...exports import PENDING
from .errors import Problem

CONTRACT_FILE = "apsis-one.openapi.yaml"
MAX_BODY_BYTES = 100 * 1024  # APSIS One API reference, "Limits": bodies over 100 kB get 413


def checked(method: str, path: str, **path_values: str) -> dict[str, Any]:
    """Values of the request coerced by the contract; 400 problem+json naming field and rule otherwise."""
    op = contract(CONTRACT_FILE).op(method, path)
    req = request._get_current_object()  # one read through Flask's proxy, not three (base._journal)
    body = req.get_data(cache=True) if op.body_schema is not None else None
    query = req.args if req.environ.get("QUERY_STRING") else {}  # none: no MultiDict to build
    values, issues = op.check(query=query, path_values=path_values, headers=req.headers, body=body)
    if issues:
        raise Problem(400, "; ".join(f"{i.field}: {i.message}" for i in issues), "Validation error")
    if op.body_schema is not None and "__body__" not in values:
        values["__body__"] = {}
    return values


def invalid(field: str, rule: str) -> Problem:
    return Problem(400, f"{field}: {rule}", "Validation error")


UTC_RULE = "must be an RFC 3339 date-time in UTC such as 2026-01-31T00:00:00Z"


def parse_time_ms(value: str, field: str) -> int:
    """RFC 3339 date-time "in the UTC variant" (APSIS One API: Request email event export) to epoch ms:
    the offset must denote UTC (Z, or +00:00); another offset is refused as the rule says."""
    try:
        moment = parse_rfc3339(value)
    except (ValueError, TypeError, OverflowError):
        moment = None
    if moment is None or moment.utcoffset() or value.rstrip().endswith("-00:00"):
        raise invalid(field, f"{UTC_RULE}, got {value!r}")  # -00:00: "offset unknown" (RFC 3339 4.3)
    return int(moment.timestamp() * 1000)


def add_months(ms: int, months: int) -> int:
    """The same instant `months` calendar months later (the day clamped to the month's length)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    month += 1
    if year > 9999:  # past the calendar's end: three months are at most 92 days
        return ms + 92 * 86_400_000
    days = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return int(moment.replace(year=year, month=month, day=min(moment.day, days)).timestamp() * 1000)


def check_window(start_ms: int, end_ms: int, end_default: str | None = None) -> None:
    """Seeds 1 and 2: "Maximum export time window for events is three months. Validated when requesting"."""
    field = f"end_at (defaults to {end_default})" if end_default else "end_at"
    if end_ms <= start_ms:
        raise invalid(field, "must be later than start_at")
    if end_ms > add_months(start_ms, 3):
        raise invalid(field, "the export time window (start_at to end_at) must not exceed three months")


def check_pending(core: Core, kind: str, label: str) -> None:
    """Seeds 1 and 2: "Pending export count limit. If reached, HTTP 429 Too Many Requests is returned"."""
    limit = core.settings.apsis_pending_export_limit
    if core.exports.count_in_state("apsis", kind, PENDING) >= limit:
        raise Problem(
            429, f"Pending export count limit reached: wait for pending {label} to complete (limit {limit})."
        )
