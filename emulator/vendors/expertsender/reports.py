"""Companion endpoints an Activities pipeline calls besides Get subscriber activity (ExpertSender API v2):
SummaryStatistics (the totals it reconciles its rows against), RemovedSubscribers (its suppression sync) and
Segments (the names behind the SegmentId column).

Counted from the same world events as the Activities rows of the email channel: retried duplicates left out,
each event on its business-unit day. Element names follow the public clients (shax88/expertsender-api
`src/Mapper/SummaryStatistic.php` and `test/data/summary_statistics.xml`, citilinkru/expert-sender-api
`tests/Response/RemovedSubscribersGetResponseTest.php` and `SegmentsGetResponseTest.php`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from ...world import model as m
from .params import BadRequest, check
from .views import _date_range, authorize, core, tz
from .xml import data_response

COUNTED = (m.SENT, m.BOUNCED, m.OPENED, m.CLICKED, m.COMPLAINED, m.UNSUBSCRIBED, m.GOAL)
# Removals' Reason (Get subscriber activity, "Removal reasons") -> RemovedSubscribers' removeTypes
# (citilinkru/expert-sender-api RemoveType)
REMOVE_TYPES = {"Subscriber": "OptOutLink", "User": "Ui", "Bounce": "BounceLimit", "Spam": "Complaint",
                "UserUnknown": "UserUnknown", "Api": "Api"}
GROUPINGS = ("Date", "Month", "Message", "List", "Segment")
SCOPES = ("List", "Segment", "Tag", "MessageType")


def _email_events(start: int, end: int, types: tuple[str, ...]) -> Iterator[tuple[m.Event, m.Message | None]]:
    world = core().world
    for event in world.events(start, min(end, core().clock.now_ms()), types):
        if event.duplicate or event.channel != m.EMAIL:
            continue
        yield event, world.message(event.message_id) if event.message_id else None


def _list_id(event: m.Event, msg: m.Message | None) -> int:
    return event.list_id or (msg.list_id if msg else 0)  # as the Activities ListId column


# --- SummaryStatistics ---------------------------------------------------------------------------
class _Counters:
    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.openers: set[tuple[int, int]] = set()
        self.clicks: set[tuple[int, int, int]] = set()
        self.clickers: set[int] = set()
        self.goals_value = 0

    def add(self, event: m.Event, goal_values: dict[int, int]) -> None:
        if event.type == m.UNSUBSCRIBED and event.reason != "Subscriber":
            return  # "Number of 'unsubscribe' link clicks": other removals are not unsubscribes
        self.counts[event.type] += 1
        if event.type == m.OPENED:
            self.openers.add((event.message_id, event.recipient))
        elif event.type == m.CLICKED:
            self.clicks.add((event.message_id, event.recipient, event.link))
            self.clickers.add(event.recipient)
        elif event.type == m.GOAL:
            self.goals_value += goal_values.get(event.goal_id, 0)

    def fields(self) -> list[tuple[str, int]]:
        c = self.counts
        return [("Sent", c[m.SENT]), ("Bounced", c[m.BOUNCED]), ("Delivered", c[m.SENT] - c[m.BOUNCED]),
                ("Opens", c[m.OPENED]), ("UniqueOpens", len(self.openers)), ("Clicks", c[m.CLICKED]),
                ("UniqueClicks", len(self.clicks)), ("Clickers", len(self.clickers)),
                ("Complaints", c[m.COMPLAINED]), ("Unsubscribes", c[m.UNSUBSCRIBED]), ("Goals", c[m.GOAL]),
                ("GoalsValue", self.goals_value)]


def _in_scope(scope: str | None, value: str, event: m.Event, msg: m.Message | None) -> bool:
    if scope is None:
        return True
    if scope == "List":
        return str(_list_id(event, msg)) == value
    if scope == "Segment":
        return msg is not None and str(msg.segment_id) == value
    if scope == "Tag":
        return msg is not None and value in msg.tags
    return value == "Newsletter"  # MessageType: the world's campaigns are all newsletters


def _group_key(grouping: str, event: m.Event, msg: m.Message | None) -> tuple[tuple[str, Any], ...] | None:
    """The grouping columns of the event's row (shax88/expertsender-api SummaryStatistic), None when it has
    no such row."""
    world = core().world
    if grouping in ("Date", "Month"):
        day = datetime.fromtimestamp(event.ts / 1000, tz()).date()
        first = day if grouping == "Date" else day.replace(day=1)
        return ((grouping, first.isoformat() + "T00:00:00"),)
    if grouping == "Message":
        return (("MessageId", msg.id), ("MessageSubject", msg.subject)) if msg else None
    if grouping == "List":
        lst = world.lists_by_id.get(_list_id(event, msg))
        return (("ListId", lst.id), ("ListName", lst.name)) if lst else None
    if msg is None:
        return None
    if not msg.segment_id:  # unsegmented subscribers: no SegmentId, name "-"
        return (("SegmentName", "-"),)
    return (("SegmentId", msg.segment_id), ("SegmentName", world.segments_by_id[msg.segment_id].name))


def summary_statistics() -> Response:
    authorize()
    values = check("GET", "/v2/Api/SummaryStatistics", request.args)
    start, end = _date_range(values, 7)
    scope, grouping = values.get("scope"), values.get("grouping")
    if scope is not None and values.get("scopeValue") is None:
        raise BadRequest(400, "Invalid 'scopeValue' parameter: is required with scope.")
    if scope is not None and scope not in SCOPES:
        raise BadRequest(400, f"Invalid 'scope' parameter: the emulator filters by {', '.join(SCOPES)} only.")
    if grouping is not None and grouping not in GROUPINGS:
        raise BadRequest(400, f"Invalid 'grouping' parameter: the emulator groups by {', '.join(GROUPINGS)} "
                              "only.")
    goal_values = {g.id: g.value for g in core().world.catalog.goals}
    total = _Counters()
    rows: dict[tuple, _Counters] = {}
    for event, msg in _email_events(start, end, COUNTED):
        if not _in_scope(scope, str(values.get("scopeValue", "")), event, msg):
            continue
        total.add(event, goal_values)
        key = _group_key(grouping, event, msg) if grouping else None
        if key is not None:
            rows.setdefault(key, _Counters()).add(event, goal_values)
    items = [("SummaryStatistic", [("IsSummaryRow", True), *total.fields()])]
    items += [("SummaryStatistic", [*key, *rows[key].fields()]) for key in sorted(rows, key=_sort_key)]
    return data_response({"SummaryStatistics": items})


def _sort_key(key: tuple[tuple[str, Any], ...]) -> tuple:
    return tuple((name, (0, value) if isinstance(value, int) else (1, str(value))) for name, value in key)


# --- RemovedSubscribers --------------------------------------------------------------------------
def removed_subscribers() -> Response:
    """Removed subscribers (citilinkru/expert-sender-api RemovedSubscriberGetRequest): the Removals of the
    email channel."""
    authorize()
    values = check("GET", "/v2/Api/RemovedSubscribers", request.args)
    start, end = _date_range(values, 30)
    list_ids = _csv_values(values.get("listIds"), "listIds", int)
    remove_types = _csv_values(values.get("removeTypes"), "removeTypes", str)
    unknown = sorted(set(remove_types or ()) - set(REMOVE_TYPES.values()))
    if unknown:
        raise BadRequest(400, f"Invalid 'removeTypes' parameter: unknown {', '.join(unknown)}; one or more "
                              f"of {', '.join(REMOVE_TYPES.values())}.")
    customs = values.get("option") == "Customs"
    world = core().world
    items = []
    for event, msg in _email_events(start, end, (m.UNSUBSCRIBED,)):
        list_id = _list_id(event, msg)
        if list_ids is not None and list_id not in list_ids:
            continue
        if remove_types is not None and REMOVE_TYPES.get(event.reason) not in remove_types:
            continue
        person = world.recipient(event.recipient)
        on = datetime.fromtimestamp(event.ts // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields: list[tuple[str, Any]] = [("Email", person.email), ("ListId", list_id), ("UnsubscribedOn", on)]
        if customs:
            fields += [("Id", person.subscriber_id), ("Firstname", person.first_name),
                       ("Lastname", person.last_name), ("Ip", person.ip)]
        items.append(("RemovedSubscriber", fields))
    return data_response({"RemovedSubscribers": items})


def _csv_values(raw: str | None, field: str, kind: type) -> list | None:
    if raw is None:
        return None
    try:
        return [kind(part.strip()) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise BadRequest(400, f"Invalid '{field}' parameter: a comma-separated list, got {raw!r}.") from None


# --- Segments ------------------------------------------------------------------------------------
def segments() -> Response:
    authorize()
    check("GET", "/v2/Api/Segments", request.args)
    return data_response({"Segments": [("Segment", [("Id", s.id), ("Name", s.name)])
                                       for s in core().world.catalog.segments]})
