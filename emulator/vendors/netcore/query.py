"""The one filtered event matcher: stats, logs and the download all select their rows with `_Matcher`.

That is what keeps them consistent (issue 6, "Consistency"): a stats counter counts the rows that the
logs list for the same window and events filter, and a download file holds exactly those rows. Stats
count and the download lists `rows()` (event-time order: a download renders hour by hour, on several cores
for a big file); Fetch Event Logs lists `sent_rows()`, in the order of `sort` (by sent time).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, NamedTuple

from ...core import Core
from ...world import HOUR_MS
from ...world.model import Event, Message
from ...world.world import ENGAGEMENT_HOURS, World
from . import vocab


@dataclass(frozen=True)
class Query:
    """A log query: the window [start_ms, end_ms), the statuses wanted, filters, and the sort order."""

    start_ms: int
    end_ms: int
    statuses: tuple[str, ...] = vocab.STATUSES
    sort: str = "asc"
    subject: str | None = None
    email: str | None = None  # recipient
    fromaddress: str | None = None  # sender email (v6 from_email)
    xapiheader: str | None = None
    tags: str | None = None  # v6
    from_domain: str | None = None  # v6
    to_domain: str | None = None  # v6
    message_id: str | None = None  # v6

    def to_dict(self) -> dict[str, Any]:
        # Shallow (its values are strings, numbers and a tuple of strings): asdict's deep copy was a sixth
        # of a logs page's time, for every scroll id.
        return {f.name: v for f in _FIELDS if (v := getattr(self, f.name)) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Query:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["statuses"] = tuple(values.get("statuses", vocab.STATUSES))
        return cls(**values)


_FIELDS = fields(Query)


class Row(NamedTuple):
    event: Event
    status: str
    message: Message


_new_row = tuple.__new__


def trid(event: Event) -> int:
    """Netcore transaction id (TRANSID, int64): one per message and recipient (emulator derivation)."""
    return trid_of(event.message_id, event.recipient)


TRID_FACTOR = 10_000_000


def trid_of(message_id: int, recipient: int) -> int:
    return message_id * TRID_FACTOR + recipient


def message_id(core: Core, event: Event) -> str:
    """v6 message id of the sent message to one recipient (emulator derivation: the world's GUID, hex)."""
    return core.world.message_guid(event.message_id, event.recipient).replace("-", "")


class _Matcher:
    def __init__(self, core: Core, q: Query):
        self.core = core
        self.world = core.world
        self.q = q
        self.statuses = frozenset(q.statuses)
        # Every status: the whole shard, which the world caches anyway, rather than a typed copy of most of
        # it (status_of answers None for the other types).
        self.types = (None if self.statuses.issuperset(vocab.STATUSES)
                      else sorted({vocab.CANONICAL[s] for s in self.statuses}))
        self._messages: dict[int, bool] = {}
        lower = (lambda v: v.lower() if v else None)
        self.subject, self.email, self.sender = lower(q.subject), lower(q.email), lower(q.fromaddress)
        self.tag, self.from_domain, self.to_domain = lower(q.tags), lower(q.from_domain), lower(q.to_domain)
        self.xapiheader, self.message_id = q.xapiheader or None, lower(q.message_id)  # empty: no filter
        self.message_level = any(v is not None for v in (self.sender, self.xapiheader, self.tag,
                                                          self.from_domain, self.subject))
        self.unfiltered = not self.message_level and self.email is None and self.to_domain is None \
            and self.message_id is None  # nothing to check beyond the status

    def message_matches(self, msg: Message) -> bool:
        """Whether any row of this message can match the message-level filters (subject: any variation)."""
        subjects = {msg.subject.lower()} | {v.subject.lower() for v in msg.variations}
        return self._message_ok(msg) and (self.subject is None or self.subject in subjects)

    def _message_ok(self, msg: Message) -> bool:
        ok = self._messages.get(msg.id)
        if ok is None:
            ok = ((self.sender is None or msg.sender_email.lower() == self.sender)
                  and (self.xapiheader is None or msg.xapiheader == self.xapiheader)
                  and (self.tag is None or self.tag in (t.lower() for t in msg.tags))
                  and (self.from_domain is None or msg.sender_email.lower().partition("@")[2] == self.from_domain))
            self._messages[msg.id] = ok
        return ok

    def row(self, event: Event) -> Row | None:
        status = vocab.status_of(event)
        if status is None or status not in self.statuses:
            return None
        world = self.world
        msg = world.message(event.message_id)
        if msg is None or not self._message_ok(msg):
            return None
        if self.subject is not None and msg.subject_for(event.variation).lower() != self.subject:
            return None
        if self.email is not None or self.to_domain is not None:
            address = world.recipient(event.recipient).email.lower()
            if self.email is not None and address != self.email:
                return None
            if self.to_domain is not None and address.partition("@")[2] != self.to_domain:
                return None
        if self.message_id is not None and message_id(self.core, event) != self.message_id:
            return None
        return _new_row(Row, (event, status, msg))  # tuple.__new__: Row's own __new__ is Python code

    def rows_of(self, events: Iterable[Event]) -> Iterator[Row]:
        """`row` of each event that has one, in order. Without a filter beyond the statuses, a row is its
        event's status and message: `row` inlined as a generator expression, the common case's fast path."""
        if not self.unfiltered:
            return filter(None, map(self.row, events))
        status_of, statuses, message = vocab.status_of, self.statuses, self.world.message
        return (_new_row(Row, (event, status, msg)) for event in events
                if (status := status_of(event)) in statuses  # None is not
                and (msg := message(event.message_id)) is not None)


def _hours(core: Core, match: _Matcher, lo: int, hi: int) -> list[int]:
    """Hours of [lo, hi) that can hold matching rows, oldest first.

    Without message-level filters that is every hour. With them (sender, X-APIHEADER, tags, subject), only
    the hours in which a matching message's waves send or get engagement (ENGAGEMENT_HOURS after each wave)
    can, so a filtered 90-day scan reads a few shards instead of two thousand.
    """
    first, last = lo // HOUR_MS, (hi - 1) // HOUR_MS
    if not match.message_level:
        return list(range(first, last + 1))
    world = core.world
    wanted: set[int] = set()
    for day in range(first // 24 - ENGAGEMENT_HOURS // 24 - 1, last // 24 + 1):
        for msg in world.messages_on(day):
            if not match.message_matches(msg):
                continue
            for wave in msg.waves:
                wanted.update(range(max(first, wave.hour), min(last, wave.hour + ENGAGEMENT_HOURS - 1) + 1))
    return sorted(wanted)


def hours(core: Core, q: Query, until_ms: int) -> list[int]:
    """The hours whose rows `rows` lists, in the query's order: the blocks of a download."""
    lo, hi = q.start_ms, min(q.end_ms, until_ms)
    if hi <= lo:
        return []
    return _in_order(q, _hours(core, _Matcher(core, q), lo, hi))


def _in_order(q: Query, hours: list[int]) -> list[int]:
    return hours[::-1] if q.sort == "desc" else hours


def rows(core: Core, q: Query, until_ms: int, after: tuple[int, int] | None = None,
         only_hours: list[int] | None = None) -> Iterator[Row]:
    """Matching rows with ts < min(end, until_ms), in the query's order, strictly after `after` (ts, seq)
    (in `only_hours` of those, when given: a block of a download).

    Ordered by (ts, seq), which is unique among non-duplicate events, so a position never repeats or
    skips a row; events only ever appear at the end of time, so asc reading picks up new arrivals too.
    """
    match = _Matcher(core, q)
    for events in _hour_events(core, q, match, until_ms, after, only_hours):
        if after is None:
            yield from match.rows_of(events)
            continue
        for event in events:
            if (event.ts, event.seq) >= after if q.sort == "desc" else (event.ts, event.seq) <= after:
                continue
            row = match.row(event)
            if row is not None:
                yield row


def hour_rows(core: Core, q: Query, until_ms: int, only_hours: list[int]) -> Iterator[list[Row]]:
    """The rows of `rows(core, q, until_ms, only_hours=only_hours)`, a list per hour: a download's block,
    rendered an hour at a time (records.csv_lines)."""
    match = _Matcher(core, q)
    for events in _hour_events(core, q, match, until_ms, None, only_hours):
        yield list(match.rows_of(events))


def _hour_events(core: Core, q: Query, match: _Matcher, until_ms: int, after: tuple[int, int] | None,
                 only_hours: list[int] | None) -> Iterator[Iterable[Event]]:
    """The events of each hour that can hold rows of `rows`, in the query's order."""
    lo, hi = q.start_ms, min(q.end_ms, until_ms)
    if q.sort == "desc" and after is not None:
        hi = min(hi, after[0] + 1)
    if q.sort != "desc" and after is not None:
        lo = max(lo, after[0])
    if hi <= lo:
        return
    world = core.world
    for hour in only_hours if only_hours is not None else _in_order(q, _hours(core, match, lo, hi)):
        events = world.hour_events(hour, lo, hi, match.types)
        yield reversed(events) if q.sort == "desc" else events  # one shard in memory at most


# --- the order of `sort`: by sent time ----------------------------------------------------------------
class SendGroup(NamedTuple):
    """The matching messages requested at one moment (their requestedTime), and the hours of the window
    that can hold their rows (ascending)."""

    send_ms: int
    message_ids: frozenset[int]
    hours: tuple[int, ...]


Position = tuple[int, int, int]  # (sent time, event time, seq) of a row: its place in the order of `sort`


def send_groups(core: Core, q: Query, until_ms: int) -> list[SendGroup]:
    """The send groups with rows in [start, min(end, until_ms)), in the query's order (asc: oldest first)."""
    lo, hi = q.start_ms, min(q.end_ms, until_ms)
    if hi <= lo:
        return []
    match = _Matcher(core, q)
    first, last = lo // HOUR_MS, (hi - 1) // HOUR_MS
    by_send: dict[int, tuple[set[int], set[int]]] = {}
    for day in range(first // 24 - ENGAGEMENT_HOURS // 24 - 1, last // 24 + 1):
        for msg in core.world.messages_on(day):
            if not match.message_matches(msg):
                continue
            hours: set[int] = set()
            for wave in msg.waves:  # a message's rows lie in its waves' hours and ENGAGEMENT_HOURS after
                hours.update(range(max(first, wave.hour), min(last, wave.hour + ENGAGEMENT_HOURS - 1) + 1))
            if hours:
                ids, group_hours = by_send.setdefault(msg.send_ms, (set(), set()))
                ids.add(msg.id)
                group_hours |= hours
    groups = [SendGroup(send_ms, frozenset(ids), tuple(sorted(hours)))
              for send_ms, (ids, hours) in sorted(by_send.items())]
    return groups[::-1] if q.sort == "desc" else groups


def sent_rows(core: Core, q: Query, until_ms: int, after: Position | None = None) -> Iterator[list[Row]]:
    """Matching rows with ts in [start, min(end, until_ms)) in the order of `sort`, a list at a time (a send
    group's hour), strictly after `after`.

    Fetch Event Logs' `sort` is "based on email sent time" ("Fetch Event Logs", "Fetch Logs" (v6)): rows are
    ordered by their message's sent time (the record's requestedTime); rows sent at the same moment by event time, then by
    seq, which is unique among non-duplicate events, so a position never repeats or skips a row; desc is
    the exact reverse.
    """
    desc = q.sort == "desc"
    lo, hi = q.start_ms, min(q.end_ms, until_ms)
    match = _Matcher(core, q)
    world = core.world
    types = tuple(match.types) if match.types is not None else None
    for group in send_groups(core, q, until_ms):
        if after is not None and (group.send_ms > after[0] if desc else group.send_ms < after[0]):
            continue
        resume = after[1:] if after is not None and group.send_ms == after[0] else None
        hours = group.hours[::-1] if desc else group.hours
        ids = group.message_ids
        for hour in hours:
            if resume is not None and (hour > resume[0] // HOUR_MS if desc else hour < resume[0] // HOUR_MS):
                continue
            by_message = _by_message(world, hour, types)
            events = [e for mid in sorted(ids) for e in by_message.get(mid, ())]
            if len(ids) > 1:
                events.sort(key=_TIME_SEQ)  # the shard's order across the group's messages
            if not lo <= hour * HOUR_MS or (hour + 1) * HOUR_MS > hi:  # a partial hour at a window's edge
                events = [e for e in events if lo <= e.ts < hi]
            if desc:
                events.reverse()
            if resume is not None:
                events = [e for e in events if ((e.ts, e.seq) < resume if desc else (e.ts, e.seq) > resume)]
            found = list(match.rows_of(events))
            if found:
                yield found


_TIME_SEQ = attrgetter("ts", "seq")



class _ByMessage:
    """An hour's events of some types by message, each message's in the shard's (ts, seq) order: a send
    group reads its messages' events of an hour without scanning the others' (a logs page reads up to two
    days of a group's hours). An LRU whose events stay within a budget, as the world's shard cache."""

    BUDGET = 100_000  # events (the world's SHARD_CACHE_EVENTS)

    def __init__(self) -> None:
        self._items: OrderedDict[tuple, dict[int, tuple[Event, ...]]] = OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._events = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a renderer forked while another thread held it (emulator.parallel)

    def __call__(self, world: World, hour: int, types: tuple[str, ...] | None
                 ) -> dict[int, tuple[Event, ...]]:
        key = (id(world), world.seed, world.scale, hour, types)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        grouped: dict[int, list[Event]] = {}
        events = world.hour_events(hour, hour * HOUR_MS, (hour + 1) * HOUR_MS, types)
        for event in events:
            grouped.setdefault(event.message_id, []).append(event)
        value = {mid: tuple(evs) for mid, evs in grouped.items()}
        with self._lock:
            if key not in self._items:
                self._items[key], self._sizes[key] = value, len(events)
                self._events += len(events)
            while self._events > self.BUDGET and len(self._items) > 1:
                old, _ = self._items.popitem(last=False)
                self._events -= self._sizes.pop(old)
        return value


_by_message = _ByMessage()


def position(row: Row) -> Position:
    return row.message.send_ms, row.event.ts, row.event.seq
