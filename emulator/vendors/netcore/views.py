"""Fetch Summary Stats and Fetch Event Logs, v5 and v5.1 (`api_key`) and v6 (Bearer), of Netcore Email API:
Events API; paths, parameters and enums from the reference pages (Get stats, Fetch Event Logs, Fetch Logs v6)
and the Pepipost SDKs. /v5 is the base path of the released `pepipost` 5.0.0 SDKs (PyPI and npm), /v5.1 that
of their GitHub sources: one handler serves both."""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

from flask import Blueprint, Response, current_app, request

from ...core import Core
from .checks import checked, date_range, end_of_day_ms, events_filter, limit_v51, midnight_ms, parse_datetime
from .errors import invalid
from .query import Query, position, sent_rows
from .records import record
from .scroll import Scroll, decode, encode
from .stats import summary

bp = Blueprint("netcore_views", __name__)
V6_LIMIT_DEFAULT = 50  # "Fetch Logs" (v6): "Default 50 if limit is not given", max 1000


def core() -> Core:
    return current_app.config["EMULATOR_CORE"]


def ok(payload: dict[str, Any]) -> Response:
    return Response(json.dumps({"status": "success", "message": "", **payload}), status=200,
                    content_type="application/json")


# --- stats --------------------------------------------------------------------------------------
def _stats(path: str) -> Response:
    c = core()
    values = checked("GET", path)
    first, last = date_range(c, values["startdate"], values.get("enddate"), "startdate", "enddate")
    data = summary(c, first, last, values.get("aggregated_by", "day"), values.get("offset", 1),
                   values.get("limit", 100))
    return ok({"data": data})


@bp.get("/v5/stats")
@bp.get("/v5.1/stats")
def stats_v51() -> Response:
    return _stats(request.url_rule.rule)


@bp.get("/v6/stats")
def stats_v6() -> Response:
    return _stats("/v6/stats")


# --- logs ---------------------------------------------------------------------------------------
def log_page(c: Core, version: str, q: Query, limit: int, offset: int, scroll: Scroll | None
             ) -> tuple[list[dict[str, Any]], str]:
    """One page of rows in the order of `sort` (by sent time) and the scroll id that continues after it
    (present on every page; an empty `data` marks the end). A scroll lists the rows that existed at its
    first page: in sent-time order a late event of an early message would fall behind the position."""
    if scroll is not None:
        q, after, offset = scroll.query, scroll.position, 0
        until = scroll.until_ms if scroll.until_ms is not None else c.clock.now_ms()
    else:
        after, until = None, c.clock.now_ms()
    out: list[dict[str, Any]] = []
    for row in chain.from_iterable(sent_rows(c, q, until, after)):
        after = position(row)
        if offset:
            offset -= 1
            continue
        out.append(record(c, row))
        if len(out) >= limit:
            break
    return out, encode(c, Scroll(version, q, limit, until, after))


@bp.get("/v5/events")
@bp.get("/v5.1/events")
def events_v51() -> Response:
    c = core()
    values = checked("GET", request.url_rule.rule)
    limit = limit_v51(c, values)
    first, last = date_range(c, values["startdate"], values.get("enddate"), "startdate", "enddate")
    statuses = events_filter(values.get("events"), "events")
    scroll = decode(c, values["scrollid"], "5.1", "scrollid") if values.get("scrollid") else None
    q = Query(midnight_ms(c, first), end_of_day_ms(c, last), tuple(sorted(statuses)),
              values.get("sort", "asc"), values.get("subject"), values.get("email"), values.get("fromaddress"),
              values.get("xapiheader"))
    if scroll is not None and "limit" not in values:
        limit = scroll.limit
    data, token = log_page(c, "5.1", q, limit, values.get("offset", 0), scroll)
    return ok({"data": data, "count": len(data), "scrollid": token})


def v6_query(c: Core, values: dict[str, Any]) -> Query:
    """The v6 filters ("Fetch Logs" (v6); names beyond events, message_id, limit, sort, scrollId are
    assumptions)."""
    first, last = date_range(c, values["start_date"], values.get("end_date"), "start_date", "end_date")
    start = midnight_ms(c, first)
    end = end_of_day_ms(c, last)
    if values.get("start_time"):
        start = parse_datetime(c, values["start_time"], "start_time")
        if not midnight_ms(c, first) <= start < end:
            raise invalid("start_time", "must lie between start_date and end_date")
    if values.get("end_time"):
        end = parse_datetime(c, values["end_time"], "end_time")
        if end <= start:
            raise invalid("end_time", "must be later than the start of the range")
    statuses = events_filter(values.get("events"), "events")
    return Query(start, end, tuple(sorted(statuses)), values.get("sort", "asc"), values.get("subject"),
                 values.get("email"), values.get("from_email"), None, values.get("tags"),
                 values.get("from_domain"), values.get("to_domain"), values.get("message_id"))


@bp.get("/v6/events")
def events_v6() -> Response:
    c = core()
    values = checked("GET", "/v6/events")
    q = v6_query(c, values)
    scroll = decode(c, values["scrollId"], "6", "scrollId") if values.get("scrollId") else None
    limit = values.get("limit", scroll.limit if scroll else V6_LIMIT_DEFAULT)
    data, token = log_page(c, "6", q, limit, 0, scroll)
    return ok({"data": data, "count": len(data), "scrollId": token})
