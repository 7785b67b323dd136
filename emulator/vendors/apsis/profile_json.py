"""The profile in segment event export file (seed 2): a JSON dictionary keyed by profile export key;
per profile `sections` keyed by section id; per section `attributes` keyed by attribute (version) id or
tag id holding {value} (null for tags), `events` when events were requested, `topics` when topics were."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson

from ...parallel import render_blocks, worth_forking
from ...world.model import Event, Message
from ...writers import json_members
from .account import Account

# Events held at once while grouping them by profile (memory bound): a pass holds them as JSON text, about
# 400 bytes an event, so 400,000 take what 200,000 took as dicts (150-160 MB), and a 1.2M-event export
# scans its window in 4 passes instead of 7.
EVENTS_PER_PASS = 400_000


def blocks(acc: Account, request: dict[str, Any]) -> list[list[int]]:
    """The profiles of the file in recipient order, cut into blocks of recipients: with events, one block per
    pass over the window's events (EVENTS_PER_PASS held at once); without, one block."""
    if not request["attributes"] and not request["tags"]:
        return []  # seed 2: without an attribute or tag requested, no profile shows up
    world = acc.world
    segment_id = request["segment_id"]
    members = [i for i in range(world.size) if not segment_id or world.in_segment(segment_id, i)]
    passes = (
        max(1, math.ceil(request.get("estimated_event_rows", 0) / EVENTS_PER_PASS))
        if request["events"]
        else 1
    )
    size = max(1, math.ceil(len(members) / passes))
    return [members[lo : lo + size] for lo in range(0, len(members), size)]


def profiles(acc: Account, request: dict[str, Any], chunk: list[int]) -> Iterator[tuple[str, Any]]:
    """(export key, profile) pairs of one block of recipients, in recipient order."""
    world = acc.world
    cat = acc.cat
    attributes = [
        (spec["version_id"], next(a for a in cat.attributes if a.discriminator == spec["discriminator"]))
        for spec in request["attributes"]
    ]
    tag_ids = [t["id"] for t in request["tags"]]
    topics = [(lst.topic, lst.id) for topic in request["topics"] for lst in cat.lists if lst.topic == topic]
    events = _events_by_profile(acc, request, chunk[0], chunk[-1]) if request["events"] else {}
    for r in chunk:
        person = world.recipient(r)
        attrs: dict[str, Any] = {}
        for version_id, attr in attributes:
            value = acc.attribute_value(attr, person)
            if value is not None:
                attrs[str(version_id)] = {"value": value}
        for tag_id in tag_ids:
            if world.has_tag(tag_id, r):
                attrs[str(tag_id)] = {"value": None}  # seed 2: "For tags the value is always null"
        section: dict[str, Any] = {"attributes": attrs}
        if request["events"]:
            section["events"] = orjson.Fragment("[" + ",".join(events.get(r, ())) + "]")
        if topics:
            section["topics"] = {
                topic: {"subscribed": world.in_list(list_id, r)} for topic, list_id in topics
            }
        yield world.profile_key(r), {"sections": {cat.sections[person.section].id: section}}


def _events_by_profile(acc: Account, request: dict[str, Any], lo: int, hi: int) -> dict[int, list[str]]:
    """Requested events of recipients lo..hi in the window, grouped by recipient, in time order, each as its
    JSON (orjson, as writers.json_members writes the rest): held as text, not as dicts or events (228k
    events in passes of 114k: peak RSS +121 -> +58 MB), nor as orjson's bytes (each left in a 1 KiB block:
    +542 MB)."""
    type_ids = {canonical: acc.event_type_of(canonical).version_id for canonical in request["events"]}
    segment = next((s for s in acc.cat.segments if s.id == request["segment_id"]), None)
    out: dict[int, list[str]] = defaultdict(list)
    picked: list[tuple[Event, Message]] = []
    for event, msg in acc.email_events(request["start_ms"], request["until_ms"], frozenset(type_ids), None,
                                       segment):
        if lo <= event.recipient <= hi:
            picked.append((event, msg))
            if len(picked) == _BATCH:
                _render_events(acc, type_ids, picked, out)
                picked = []
    _render_events(acc, type_ids, picked, out)
    return out


_BATCH = 4096  # events whose correlation ids are computed at once


def _render_events(acc: Account, type_ids: dict[str, Any], picked: list[tuple[Event, Message]],
                   out: dict[int, list[str]]) -> None:
    # Correlation ids all at once (numpy; a retry repeats its event's, seed 2): 52k events, 0.44 -> 0.37 s.
    ids = acc.world.correlation_ids_of([event for event, _ in picked])
    dumps = orjson.dumps
    for k, (event, msg) in enumerate(picked):
        out[event.recipient].append(dumps({
            "correlationId": ids[36 * k:36 * k + 36],
            "sourceEventTime": event.source_ts,
            "typeId": type_ids[event.type],
            "createdAt": event.ts,
            "data": acc.event_data(event, msg),
        }).decode())


def json_file(acc: Account, request: dict[str, Any], processes: int = 1) -> Iterator[bytes]:
    """The file, one block of recipients after another, on `processes` cores when it is big enough."""
    parts = blocks(acc, request)
    scanned = request.get("estimated_event_rows", 0) * len(parts) if request["events"] else 0  # a scan a block
    if not worth_forking(processes, scanned + sum(map(len, parts)), len(parts)):
        processes = 1
    yield b"{"
    yield from render_blocks(range(len(parts)), lambda i: json_members(profiles(acc, request, parts[i]), i > 0),
                             processes)
    yield b"}"
