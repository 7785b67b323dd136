"""The email event export file (seed 1): gzip-compressed CSV, the 20 default columns in the documented
order, then one column per requested attribute and tag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...world import model as m
from ...writers import coalesce, csv_stream, gzip_stream
from .account import EXPORT_TYPES, Account, short_name

# Seed 1, "default columns", in this order.
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
    """Defaults, then `name (version_id: N)` per attribute and tag (seed 1: "gender (version_id: 491874)")."""
    extra = [
        f"{short_name(a['discriminator'])} (version_id: {a['version_id']})" for a in request["attributes"]
    ]
    extra += [f"{short_name(t['discriminator'])} (version_id: {t['id']})" for t in request["tags"]]
    return list(DEFAULT_COLUMNS) + extra


def rows(acc: Account, request: dict[str, Any]) -> Iterator[list[Any]]:
    world = acc.world
    attributes = [
        next(a for a in acc.cat.attributes if a.discriminator == spec["discriminator"])
        for spec in request["attributes"]
    ]
    tag_ids = [t["id"] for t in request["tags"]]
    sections = set(request["sections"]) if request["sections"] is not None else None
    segment = next((s for s in acc.cat.segments if s.id == request["segment_id"]), None)
    section_disc = [s.discriminator for s in acc.cat.sections]
    for event, msg in acc.email_events(request["start_ms"], request["until_ms"], EXPORTED, sections, segment):
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


def gzip_csv(acc: Account, request: dict[str, Any], level: int) -> Iterator[bytes]:
    return gzip_stream(coalesce(csv_stream(header(request), rows(acc, request))), level)
