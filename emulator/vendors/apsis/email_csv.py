"""The email event export file (APSIS One API: Request email event export): gzip-compressed CSV, the 20
default columns in the documented order, then one column per requested attribute and tag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...parallel import csv_blocks, plan
from ...world import model as m
from ...world.vector import UUID_CHARS
from ...world.world import HOUR_MS, hour_windows
from ...writers import coalesce, csv_field, csv_line, gzip_stream, utf8_text
from .account import EXPORT_TYPES, Account, short_name

# "Request email event export", "default columns", in this order.
DEFAULT_COLUMNS = (
    "activity_id",
    "split_id",
    "activity_name",
    "split_activity_name",
    "sender",
    "subject",
    "address",
    "variation",
    "type",
    "correlation_id",
    "event_time",
    "server_time",
    "device",
    "location",
    "link_id",
    "link_url",
    "link_title",
    "bounce_code",
    "unsubscribe_topic",
    "abuse_section",
)
EXPORTED = frozenset(EXPORT_TYPES)


def header(request: dict[str, Any]) -> list[str]:
    """Defaults, then `name (version_id: N)` per attribute and tag ("Request email event export": "gender
    (version_id: 491874)")."""
    extra = [
        f"{short_name(a['discriminator'])} (version_id: {a['version_id']})" for a in request["attributes"]
    ]
    extra += [f"{short_name(t['discriminator'])} (version_id: {t['id']})" for t in request["tags"]]
    return list(DEFAULT_COLUMNS) + extra


def rows(acc: Account, request: dict[str, Any]) -> Iterator[list[Any]]:
    """The rows as field lists (the reference rendering; `lines` is the fast one with the same text)."""
    world = acc.world
    attributes = _attributes(acc, request)
    tag_ids = [t["id"] for t in request["tags"]]
    section_disc = [s.discriminator for s in acc.cat.sections]
    for event, msg in _events(acc, request):
        person = world.recipient(event.recipient)
        split_id, split_name, variation = acc.variation_parts(msg, event.variation)
        engaged = event.type in (m.OPENED, m.CLICKED)  # device, location: "Only for CLICKED and OPENED"
        link = msg.links[event.link] if event.type == m.CLICKED else None  # link_*: "Only for CLICKED"
        row: list[Any] = [
            msg.id,
            split_id,
            msg.name,
            split_name,
            msg.sender_name,
            msg.subject_for(event.variation),
            person.email,
            variation,
            EXPORT_TYPES[event.type],
            world.correlation_id(event),
            event.source_ts,
            event.ts,
            event.device if engaged else "",
            world.location(event) if engaged else "",
            link.id if link else "",
            link.url if link else "",
            link.title if link else "",
            event.bounce_code if event.type == m.BOUNCED else "",
            acc.topic_of_list(event.list_id) if event.type == m.UNSUBSCRIBED else "",
            section_disc[msg.section] if event.type == m.COMPLAINED else "",
        ]
        row += [acc.csv_value(acc.attribute_value(attr, person)) for attr in attributes]
        row += ["TAG" if world.has_tag(tag_id, event.recipient) else "" for tag_id in tag_ids]
        yield row


def lines(acc: Account, request: dict[str, Any]) -> Iterator[str]:
    """The rows of `rows` as CSV text. What is constant per activity and variation, per type, per link and
    per recipient is escaped once and cached, so a row is one f-string. The
    pieces are writers.utf8_text (devices, ids, numbers: ASCII): written with encoding="latin-1"."""
    world = acc.world
    attributes = _attributes(acc, request)
    tag_ids = [t["id"] for t in request["tags"]]
    section_disc = [utf8_text(csv_field(s.discriminator)) for s in acc.cat.sections]
    hour, ids = -1, ""  # the hour's correlation ids, 36 characters per seq (world.correlation_ids)
    heads: dict[tuple[int, int], tuple[str, str]] = {}
    people: dict[int, tuple[str, str, str]] = {}
    links: dict[tuple[int, int], str] = {}
    for event, msg in _events(acc, request):
        key = (msg.id, event.variation)
        head = heads.get(key)
        if head is None:
            split_id, split_name, variation = acc.variation_parts(msg, event.variation)
            head = heads[key] = (
                utf8_text(csv_line((msg.id, split_id, msg.name, split_name, msg.sender_name,
                                    msg.subject_for(event.variation)))),
                utf8_text(csv_field(variation)),
            )
        person = people.get(event.recipient)
        if person is None:
            if len(people) >= _PEOPLE_CACHE:
                people.clear()
            p = world.recipient(event.recipient)
            extra = [acc.csv_value(acc.attribute_value(attr, p)) for attr in attributes]
            extra += ["TAG" if world.has_tag(tag_id, event.recipient) else "" for tag_id in tag_ids]
            person = people[event.recipient] = (
                utf8_text(csv_field(p.email)), utf8_text(csv_field(p.country)),
                utf8_text("".join("," + csv_field(v) for v in extra)))
        typ = event.type
        tail = _NO_DETAILS.get(typ)  # SENT, DELIVERED: most rows, found at once
        if tail is not None:
            pass
        elif typ == m.OPENED:
            tail = f"{csv_field(event.device)},{person[1]},,,,,,"
        elif typ == m.CLICKED:
            link = links.get((msg.id, event.link))
            if link is None:
                ln = msg.links[event.link]
                link = links[(msg.id, event.link)] = utf8_text(csv_line((ln.id, ln.url, ln.title)))
            tail = f"{csv_field(event.device)},{person[1]},{link},,,"
        elif typ == m.BOUNCED:
            tail = f",,,,,{event.bounce_code},,"
        elif typ == m.UNSUBSCRIBED:
            tail = ",,,,,," + utf8_text(csv_field(acc.topic_of_list(event.list_id))) + ","
        elif typ == m.COMPLAINED:
            tail = ",,,,,,," + section_disc[msg.section]
        else:
            tail = ",,,,,,,"
        if event.ts // HOUR_MS != hour:
            hour = event.ts // HOUR_MS
            ids = world.correlation_ids(hour)
        cid = event.seq * UUID_CHARS
        yield (f"{head[0]},{person[0]},{head[1]},{EXPORT_TYPES[typ]},{ids[cid - UUID_CHARS:cid]},"
               f"{event.source_ts},{event.ts},{tail}{person[2]}")


_NO_DETAILS = {m.SENT: ",,,,,,,", m.DELIVERED: ",,,,,,,"}  # empty device .. abuse_section
_PEOPLE_CACHE = 100_000  # recipients whose rendered fields are kept during one export (bounded memory)


def _attributes(acc: Account, request: dict[str, Any]) -> list[Any]:
    return [
        next(a for a in acc.cat.attributes if a.discriminator == spec["discriminator"])
        for spec in request["attributes"]
    ]


def _events(acc: Account, request: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    sections = set(request["sections"]) if request["sections"] is not None else None
    segment = next((s for s in acc.cat.segments if s.id == request["segment_id"]), None)
    return acc.email_events(request["start_ms"], request["until_ms"], EXPORTED, sections, segment)


def gzip_csv(acc: Account, request: dict[str, Any], level: int, processes: int = 1,
             estimated_rows: float = 0) -> Iterator[bytes]:
    """The file: the header, then the rows hour by hour, rendered on `processes` cores when the export is
    large enough to pay for it (emulator.parallel), gzip-compressed beside them."""
    start, until = request["start_ms"], request["until_ms"]
    processes, windows = plan(processes, acc.world.export_work(start, until, estimated_rows),
                              hour_windows(start, until), (start, until))
    body = csv_blocks(header(request), windows,
                      lambda window: lines(acc, dict(request, start_ms=window[0], until_ms=window[1])),
                      processes, encoding="latin-1")  # lines' UTF-8 bytes as Latin-1 text
    return gzip_stream(coalesce(body), level)
