"""ExpertSender views: Activities (CSV) and the companion endpoints an activity exporter pairs with it."""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, request

from ...core import Core
from ...parallel import csv_blocks, plan
from ...world import bounce_kind
from ...world import model as m
from ...world.world import hour_windows
from ...writers import coalesce, csv_stream, gzip_stream, known_length
from .activities import ActivityQuery, bounce_reason, lines, local_day, window
from .columns import FLAGS, SYSTEM_TAGS, TAG_TYPES
from .params import BadRequest, check
from .xml import data_response

# Sends per block of a Sends export rendered on several cores: one hour of a big world holds a third of a
# day's sends, so hours alone would leave the other cores idle.
SEND_BLOCK = 20_000
INVALID_KEY = "Supplied API key is invalid."  # ExpertSender API v2: Status codes (403)
# A CSV answer up to this size is rendered before it is sent, so it carries a Content-Length as Get
# subscriber activity's examples do (and a client that needs one to see a body gets it); a larger one
# streams chunked.
KNOWN_LENGTH_LIMIT = 1 << 20


def core() -> Core:
    return current_app.config["EMULATOR_CORE"]


def tz() -> ZoneInfo:
    return ZoneInfo(core().settings.expertsender_timezone)


def authorize() -> None:
    given = next((v for k, v in request.args.items() if k.lower() == "apikey"), "")
    if not hmac.compare_digest(given.encode(), core().settings.expertsender_api_key.encode()):
        raise BadRequest(403, INVALID_KEY)


def csv_response(header: list[str], body_rows: Iterator[list[Any]] | None = None,
                 query: ActivityQuery | None = None) -> Response:
    """CSV (rows as field lists, or an Activities query's lines, hour by hour and on several cores for a big
    day) with the configured BOM and line end. Plain by default, as in Get subscriber activity's examples
    (the request says `Accept-Encoding: gzip,deflate`, the answer has no Content-Encoding and a
    Content-Length); gzip
    for a client that accepts it only with EMULATOR_EXPERTSENDER_GZIP. Content-Length when small."""
    c = core()
    settings = c.settings
    line_end = "\n" if settings.expertsender_line_end == "lf" else "\r\n"
    bom = settings.expertsender_csv_bom
    if query is not None:
        world, zone = c.world, tz()
        start, end = window(query, zone)
        # Blocks of an hour, or for Sends of SEND_BLOCK sends at most: a send hour of a big world holds most of a day
        blocks = (world.send_windows(start, end, SEND_BLOCK) if query.activity == "Sends"
                  else hour_windows(start, end))
        processes, parts = plan(settings.render_processes, world.export_work(start, end), blocks, (start, end))
        chunks = coalesce(csv_blocks(header, parts, lambda part: lines(world, query, zone, part), processes,
                                     line_end=line_end, bom=bom, encoding="latin-1"))  # lines: utf8_text
    else:
        chunks = coalesce(csv_stream(header, body_rows or iter(()), line_end=line_end, bom=bom))
    response = Response(content_type="text/csv; charset=utf-8")
    if settings.expertsender_gzip and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        chunks = gzip_stream(chunks, settings.gzip_level)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = "private"
    whole, response.response = known_length(chunks, KNOWN_LENGTH_LIMIT)
    if whole is not None:
        response.headers["Content-Length"] = str(whole)
    return response


# --- Activities ------------------------------------------------------------------------------------
def activities(message_id: str | None = None) -> Response:
    """Get subscriber activity. The document's own example `GET /v2/Api/Activities/145408?...&type=Opens`
    answers rows of MessageId 147849: the path id is not a filter (its meaning is not documented), so it
    is checked as an integer and otherwise ignored."""
    authorize()
    path = "/v2/Api/Activities" + ("/{id}" if message_id is not None else "")
    values = check("GET", path, request.args, {"id": message_id} if message_id is not None else None)
    activity = values["type"]
    tags = tuple(t.strip() for t in values.get("tags", "").split(",") if t.strip())
    if tags and activity not in TAG_TYPES:
        raise BadRequest(400, f"Invalid 'tags' parameter: not available for activity type {activity}.")
    system = [t for t in tags if t in SYSTEM_TAGS]
    if system:
        raise BadRequest(400, f"Invalid 'tags' parameter: system tags cannot be searched ({', '.join(system)}).")
    query = ActivityQuery(
        activity=activity, day=date.fromisoformat(values["date"]), channel=values.get("channel", "Email"),
        extended=values.get("columns", "Standard") == "Extended",
        flags={flag: bool(values.get(flag, False)) for flag in FLAGS}, tags=tags, until_ms=core().clock.now_ms())
    return csv_response(query.header(), query=query)


# --- Companion endpoints ---------------------------------------------------------------------------
def server_time() -> Response:
    authorize()
    check("GET", "/v2/Api/Time", request.args)
    now = datetime.fromtimestamp(core().clock.now(), UTC)
    return data_response(now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z")  # .NET's 7 fractional digits


def _list_item(lst) -> list:
    return [("Id", lst.id), ("Name", lst.name), ("FriendlyName", lst.name), ("Language", "en-US"),
            ("OptInMode", "DoubleOptIn" if lst.double_opt_in else "SingleOptIn")]


def lists() -> Response:
    authorize()
    values = check("GET", "/v2/Api/Lists", request.args)
    items = [] if values.get("seedLists") else core().world.catalog.lists
    return data_response({"Lists": [("List", _list_item(lst)) for lst in items]})


def one_list(list_id: str) -> Response:
    authorize()
    values = check("GET", "/v2/Api/Lists/{id}", request.args, {"id": list_id})
    lst = core().world.lists_by_id.get(values["id"])
    if lst is None:
        raise BadRequest(404, f"List with id {values['id']} not found.")
    return data_response([("Id", lst.id), ("Name", lst.name), ("FriendlyName", lst.name),
                          ("CreatedDate", "2019-03-01T09:00:00"), ("Language", "en-US"), ("IsSeedList", False),
                          ("IsDeleted", False), ("OptInMode", "DoubleOptIn" if lst.double_opt_in else "SingleOptIn"),
                          ("Size", lst.size)])


def _local(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz()).strftime("%Y-%m-%dT%H:%M:%S")


def _message_fields(msg) -> list:
    world = core().world
    lst = world.lists_by_id[msg.list_id]
    segments = [("Segment", [("Id", msg.segment_id), ("Name", world.segments_by_id[msg.segment_id].name)])] \
        if msg.segment_id else []
    return [("Id", msg.id), ("FromName", msg.sender_name), ("FromEmail", msg.sender_email),
            ("Subject", msg.subject), ("Type", "Newsletter"), ("SentDate", _local(msg.send_ms)),
            ("Tags", [("Tag", t) for t in msg.tags]), ("Lists", [("List", [("Id", lst.id), ("Name", lst.name)])]),
            ("Segments", segments)]


def _date_range(values: dict[str, Any], default_days: int) -> tuple[int, int]:
    """[start of startDate, end of endDate) in business-unit days; defaults to the last `default_days`."""
    today = datetime.fromtimestamp(core().clock.now(), tz()).date()
    start = date.fromisoformat(values["startDate"]) if values.get("startDate") else today - timedelta(days=default_days - 1)
    end = date.fromisoformat(values["endDate"]) if values.get("endDate") else today
    if end < start:
        raise BadRequest(400, "Invalid 'endDate' parameter: must not be before startDate.")
    if (end - start).days > 366:
        raise BadRequest(400, "Invalid 'endDate' parameter: the range may span at most 366 days.")
    return local_day(start, tz())[0], local_day(end, tz())[1]


def messages() -> Response:
    authorize()
    values = check("GET", "/v2/Api/Messages", request.args)
    start, end = _date_range(values, 7)
    tag = values.get("tag")
    items = [msg for msg in core().world.messages_between(start, min(end, core().clock.now_ms()))
             if msg.channel == m.EMAIL and (not tag or tag in msg.tags)]
    if values.get("type") not in (None, "Newsletter"):
        items = []  # the world's campaigns are all newsletters
    return data_response({"Messages": [("Message", _message_fields(msg)) for msg in items]})


def _message(message_id: int):
    msg = core().world.message(message_id)
    if msg is None or msg.channel != m.EMAIL or msg.send_ms > core().clock.now_ms():
        raise BadRequest(404, f"Message with id {message_id} not found.")
    return msg


def one_message(message_id: str) -> Response:
    authorize()
    values = check("GET", "/v2/Api/Messages/{id}", request.args, {"id": message_id})
    return data_response(_message_fields(_message(values["id"])))


def message_statistics(message_id: str) -> Response:
    """Counters equal the counts of the message's Activities rows over the same business-unit days; each kind
    of removal under its own counter: Unsubscribes are the recipients' own removals (reason Subscriber), a
    complaint's removal counts under Complaints and a bounce's under Bounced. Only the hours a message's
    events can fall in are read (World.message_span), whatever the range asked."""
    authorize()
    values = check("GET", "/v2/Api/MessageStatistics/{id}", request.args, {"id": message_id})
    msg = _message(values["id"])
    if values.get("startDate") or values.get("endDate"):
        start, end = _date_range(values, 1)
    else:  # the whole life of the message: its send day and the two engagement days after it
        send_day = datetime.fromtimestamp(msg.send_ms / 1000, tz()).date()
        start, end = local_day(send_day, tz())[0], local_day(send_day + timedelta(days=3), tz())[0]
    world = core().world
    first, last = world.message_span(msg)
    counts: Counter[str] = Counter()
    openers, clickers = set(), set()
    for e in world.events(max(start, first), min(end, last, core().clock.now_ms()), _STATISTICS_TYPES):
        if e.message_id != msg.id or e.duplicate:
            continue
        if e.type == m.UNSUBSCRIBED and e.reason != "Subscriber":
            continue
        counts[e.type] += 1
        if e.type == m.OPENED:
            openers.add(e.recipient)
        elif e.type == m.CLICKED:
            clickers.add(e.recipient)
    return data_response([
        ("Sent", counts[m.SENT]), ("Bounced", counts[m.BOUNCED]), ("Delivered", counts[m.DELIVERED]),
        ("Opens", counts[m.OPENED]), ("UniqueOpens", len(openers)), ("Clicks", counts[m.CLICKED]),
        ("UniqueClicks", len(clickers)), ("Clickers", len(clickers)), ("Complaints", counts[m.COMPLAINED]),
        ("Unsubscribes", counts[m.UNSUBSCRIBED]),
    ])


_STATISTICS_TYPES = (m.SENT, m.BOUNCED, m.DELIVERED, m.OPENED, m.CLICKED, m.COMPLAINED, m.UNSUBSCRIBED)


_BOUNCE_REASON_CODES = {"UserUnknown": 1, "MailboxFull": 2, "Blocked": 3, "Unknown": 6, "Other": 7, "OutOfOffice": 7}
_BOUNCE_TYPES = {"hard": "Hard", "soft": "Soft", "transient": "Soft"}
_BOUNCE_TYPE_CODES = {"Hard": 1, "Soft": 2}


def bounces() -> Response:
    """Bounce list CSV: Date, Email, Phone, BounceCode, BounceReason, BounceType (ExpertSender API v2: Get
    bounces list)."""
    authorize()
    values = check("GET", "/v2/Api/Bounces", request.args)
    window = _date_range(values, 1)
    channel = values.get("channel", "Email")
    reason_code, type_code = values.get("bounceReason"), values.get("bounceType")
    world, zone, until = core().world, tz(), min(window[1], core().clock.now_ms())

    def body() -> Iterator[list[Any]]:
        for e in world.events(window[0], until, (m.BOUNCED,)):
            if e.duplicate or (channel != "All" and (e.channel == m.SMS) != (channel == "SmsMms")):
                continue
            sms = e.channel == m.SMS
            reason, diagnostic = bounce_reason(e.bounce_code, sms)
            kind = _BOUNCE_TYPES[bounce_kind(e.bounce_code)]
            if reason_code is not None and _BOUNCE_REASON_CODES[reason] != reason_code:
                continue
            if type_code is not None and _BOUNCE_TYPE_CODES[kind] != type_code:
                continue
            person = world.recipient(e.recipient)
            stamp = datetime.fromtimestamp(e.ts // 1000, zone).strftime("%Y-%m-%d %H:%M:%S")
            yield [stamp, "" if sms else person.email, person.phone if sms else "",
                   diagnostic.split(" ")[1] if diagnostic and not sms else "", reason, kind]

    return csv_response(["Date", "Email", "Phone", "BounceCode", "BounceReason", "BounceType"], body())
