"""The profile in segment event export file (APSIS One API: Request profile in segment event export): a
JSON dictionary keyed by profile export key; per profile `sections` keyed by section id; per section
`attributes` keyed by attribute (version) id or tag id holding {value} (null for tags), `events` when events
were requested, `topics` when topics were.

The file is ordered by profile, the window's events by time: a profile's events come from every hour of
the window. A small export groups them in memory in one scan. A big one scans the window once, in blocks
of hours (on several cores when big enough): each block's events, rendered and grouped by profile, go to a
temporary file in profile order, with the offset where each bucket of profiles starts. The file is then
written bucket by bucket, each bucket's events read back from every block's file: memory holds one bucket,
whatever the export's size, at the cost of temporary disk about the size of the file (in $TMPDIR, removed
when the download ends or stops). Before, each pass over a share of the profiles scanned the whole window
again, holding up to 400k events: a 1M-event export took 7.3 s, its rendering processes' peak RSS 212 MB;
now 3.5 s and 75 MB (58 days at scale 1, two processes).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from array import array
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson

from ...parallel import render_blocks, worth_forking
from ...world.model import Event, Message
from ...world.world import hour_windows
from ...writers import json_members
from .account import Account

# Events held at once while the file is written (one bucket of profiles, as JSON text: about 200 bytes an
# event, so 10 MB). An export estimated at no more is grouped in memory in one scan, without temporary files.
EVENTS_PER_BUCKET = 50_000
# Events of a block of the window's hours, the unit of the scan a rendering process takes at a time.
EVENTS_PER_BLOCK = 25_000
# Events grouped in memory at once while a block is scanned: a block is written as runs of this many, so
# that a process holds no more of a busy hour's events (68k at scale 4) as text at once.
RUN_EVENTS = 3 * 4096


def members(acc: Account, request: dict[str, Any]) -> list[int]:
    """The profiles of the file, in recipient order ("Request profile in segment event export": without an
    attribute or tag requested, no profile shows up)."""
    if not request["attributes"] and not request["tags"]:
        return []
    world, segment_id = acc.world, request["segment_id"]
    return [i for i in range(world.size) if not segment_id or world.in_segment(segment_id, i)]


def buckets(people: list[int], estimated_events: int) -> list[list[int]]:
    """`people` cut into buckets of about EVENTS_PER_BUCKET events."""
    count = max(1, min(len(people), math.ceil(estimated_events / EVENTS_PER_BUCKET)))
    size = max(1, math.ceil(len(people) / count))
    return [people[lo : lo + size] for lo in range(0, len(people), size)]


def profiles(acc: Account, request: dict[str, Any], chunk: list[int],
             events: dict[int, list[str]]) -> Iterator[tuple[str, Any]]:
    """(export key, profile) pairs of a bucket of recipients, in recipient order; `events` holds each one's
    events as JSON texts, in time order, each text one event or several joined by commas."""
    world = acc.world
    cat = acc.cat
    attributes = [
        (spec["version_id"], next(a for a in cat.attributes if a.discriminator == spec["discriminator"]))
        for spec in request["attributes"]
    ]
    tag_ids = [t["id"] for t in request["tags"]]
    topics = [(lst.topic, lst.id, lst.section) for topic in request["topics"] for lst in cat.lists
              if lst.topic == topic]
    slots, at = len(cat.sections), request.get("at_ms", request["until_ms"])
    for r in chunk:
        person = world.recipient(r)
        attrs: dict[str, Any] = {}
        for version_id, attr in attributes:
            value = acc.attribute_value(attr, person)
            if value is not None:
                attrs[str(version_id)] = {"value": value}
        for tag_id in tag_ids:
            if world.has_tag(tag_id, r):
                # "Request profile in segment event export": "For tags the value is always null"
                attrs[str(tag_id)] = {"value": None}
        sections: dict[str, Any] = {}
        for index in world.profile_sections(r):
            # "Request profile in segment event export": each section holds the profile's attributes and tags,
            # and its own events and topics
            section: dict[str, Any] = {"attributes": attrs}
            if request["events"]:
                section["events"] = orjson.Fragment("[" + ",".join(events.get(r * slots + index, ())) + "]")
            own = [(topic, list_id) for topic, list_id, at in topics if at == index]
            if own:  # a topic's state when the export was requested
                section["topics"] = {topic: {"subscribed": world.subscribed(list_id, r, at)}
                                     for topic, list_id in own}
            sections[cat.sections[index].id] = section
        yield world.profile_key(r), {"sections": sections}


def _events_by_profile(acc: Account, request: dict[str, Any]) -> dict[int, list[str]]:
    """Requested events of the request's window, grouped by recipient and section (key: recipient times
    the number of sections, plus the section of the event's activity), in time order, each as its JSON."""
    return next(_grouped_runs(acc, request, None))


def _grouped_runs(acc: Account, request: dict[str, Any], most: int | None) -> Iterator[dict[int, list[str]]]:
    """The events of _events_by_profile in runs of about `most` events at a time (all at once with None),
    each run grouped by recipient. Each event is its JSON (orjson, as writers.json_members writes the
    rest), held as text: smaller than dicts or events, and than orjson's bytes, each of which is left in a
    1 KiB block."""
    type_ids = {canonical: acc.event_type_of(canonical).version_id for canonical in request["events"]}
    segment = next((s for s in acc.cat.segments if s.id == request["segment_id"]), None)
    out: dict[int, list[str]] = defaultdict(list)
    held = 0
    picked: list[tuple[Event, Message]] = []
    for event, msg in acc.email_events(request["start_ms"], request["until_ms"], frozenset(type_ids), None,
                                       segment):
        picked.append((event, msg))
        if len(picked) == _BATCH:
            _render_events(acc, type_ids, picked, out)
            held += len(picked)
            picked = []
            if most is not None and held >= most:
                yield out
                out, held = defaultdict(list), 0
    _render_events(acc, type_ids, picked, out)
    yield out


_BATCH = 4096  # events whose correlation ids are computed at once


def _render_events(acc: Account, type_ids: dict[str, Any], picked: list[tuple[Event, Message]],
                   out: dict[int, list[str]]) -> None:
    # Correlation ids all at once (numpy; a retry repeats its event's, "Request profile in segment event
    # export").
    ids = acc.world.correlation_ids_of([event for event, _ in picked])
    dumps = orjson.dumps
    slots = len(acc.cat.sections)
    for k, (event, msg) in enumerate(picked):
        out[event.recipient * slots + msg.section].append(dumps({
            "correlationId": ids[36 * k:36 * k + 36],
            "sourceEventTime": event.source_ts,
            "typeId": type_ids[event.type],
            "createdAt": event.ts,
            "data": acc.event_data(event, msg),
        }).decode())


def _scan_blocks(start_ms: int, until_ms: int, estimated_events: int) -> list[tuple[int, int]]:
    """The window cut at hour boundaries into blocks of about EVENTS_PER_BLOCK events."""
    hours = hour_windows(start_ms, until_ms)
    per_block = max(1, round(len(hours) * EVENTS_PER_BLOCK / max(1, estimated_events)))
    return [(hours[i][0], hours[min(i + per_block, len(hours)) - 1][1]) for i in range(0, len(hours), per_block)]


def _spill(acc: Account, request: dict[str, Any], block: int, window: tuple[int, int], starts: list[int],
           path: str) -> Iterator[bytes]:
    """Write the events of `window` to `path` in runs of about RUN_EVENTS events, each run a line per
    recipient and section in recipient order ("key event,event,...", the key of _events_by_profile: orjson
    escapes every newline); yield per run its record for the index: the block, the byte offsets where each
    bucket's recipients start, and the run's end (len(starts) + 2 int64)."""
    slots = len(acc.cat.sections)
    with open(path, "wb") as f:
        for grouped in _grouped_runs(acc, dict(request, start_ms=window[0], until_ms=window[1]), RUN_EVENTS):
            record = array("q", [block])
            for r in sorted(grouped):
                while len(record) <= len(starts) and starts[len(record) - 1] * slots <= r:
                    record.append(f.tell())
                f.write(f"{r} {','.join(grouped.pop(r))}\n".encode())  # each recipient's text freed once written
            record.extend([f.tell()] * (len(starts) + 2 - len(record)))
            yield record.tobytes()


def _read_bucket(spill_dir: str, bucket: int, runs: list[array]) -> dict[int, list[str]]:
    """The events of a bucket's recipients from every run, in time order (as _events_by_profile groups
    them, a run's events of a recipient joined by commas)."""
    out: dict[int, list[str]] = defaultdict(list)
    f, block = None, -1
    try:
        for run in runs:
            lo, hi = run[1 + bucket], run[2 + bucket]
            if lo == hi:
                continue
            if run[0] != block:  # a block's runs follow each other
                if f is not None:
                    f.close()
                block = run[0]
                f = open(os.path.join(spill_dir, str(block)), "rb")  # noqa: SIM115 - kept open for its runs
            f.seek(lo)
            for line in f.read(hi - lo).decode()[:-1].split("\n"):  # not splitlines: JSON may hold U+2028
                r, _, joined = line.partition(" ")
                out[int(r)].append(joined)
    finally:
        if f is not None:
            f.close()
    return out


def spills(request: dict[str, Any]) -> bool:
    """Whether the file is written through temporary files (more events estimated than one bucket holds)."""
    return bool(request["events"]) and request.get("estimated_event_rows", 0) > EVENTS_PER_BUCKET


def no_temporary_directory() -> str | None:
    """Why no temporary directory can be made for a file that spills ($TMPDIR not writable), or None."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix="apsis-profile-export-"))
    except OSError as err:
        return f"{err.strerror or err}: {getattr(err, 'filename', None) or tempfile.gettempdir()}"
    return None


def json_file(acc: Account, request: dict[str, Any], processes: int = 1) -> Iterator[bytes]:
    """The file, one bucket of recipients after another (see the module's note).

    A file that spills writes its temporary files here, before the first byte: a full or unwritable
    $TMPDIR raises OSError (or ExportProcessError from a rendering process) to the caller, who can still
    answer an error instead of a 200 that stops midway."""
    people = members(acc, request)
    if not spills(request) or not people:  # grouped in memory, in one scan (none without profiles)
        return _in_memory(acc, request, people)
    estimated = request["estimated_event_rows"]
    parts = buckets(people, estimated)
    start, until = request["start_ms"], request["until_ms"]
    blocks = _scan_blocks(start, until, estimated)
    scan_processes = processes if worth_forking(processes, acc.world.export_work(start, until, estimated),
                                                len(blocks)) else 1
    starts = [part[0] for part in parts]
    spill_dir = tempfile.mkdtemp(prefix="apsis-profile-export-")
    try:
        raw = b"".join(render_blocks(
            range(len(blocks)),
            lambda b: _spill(acc, request, b, blocks[b], starts, os.path.join(spill_dir, str(b))),
            scan_processes))
    except BaseException:
        shutil.rmtree(spill_dir, ignore_errors=True)
        raise
    flat = array("q")
    flat.frombytes(raw)
    width = len(parts) + 2
    runs = [flat[k : k + width] for k in range(0, len(flat), width)]
    write_processes = processes if worth_forking(processes, estimated, len(parts)) else 1
    return _from_spill(acc, request, parts, spill_dir, runs, write_processes)


def _in_memory(acc: Account, request: dict[str, Any], people: list[int]) -> Iterator[bytes]:
    yield b"{"
    events = _events_by_profile(acc, request) if people and request["events"] else {}
    yield from json_members(profiles(acc, request, people, events))
    yield b"}"


def _from_spill(acc: Account, request: dict[str, Any], parts: list[list[int]], spill_dir: str,
                runs: list[array], processes: int) -> Iterator[bytes]:
    try:
        yield b"{"
        yield from render_blocks(
            range(len(parts)),
            lambda i: json_members(profiles(acc, request, parts[i], _read_bucket(spill_dir, i, runs)), i > 0),
            processes)
        yield b"}"
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
