"""A log row in Netcore's record style ("Fetch Event Logs": the v2 `/v2/logs` record, which v5.1 keeps).

Fields: trid, rcptEmail, fromaddress, subject, status, requestedTime, deliveryTime, modifiedTime, size,
remarks, xapiheader, tags, opens [{ip, time}], clicks [{ip, link, time}]; plus message_id (v6 filter).
One row is one event (the emulator's choice, so that scrolling yields every event exactly once).
Times are "YYYY-MM-DD HH:MM:SS" in the account time zone (emulator choice; no source shows a sample).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from ...core import Core
from ...world import World, vector
from ...world.hashing import h
from ...world.model import Event, Message
from ...writers import LocalSeconds, csv_field, csv_line, utf8_text
from . import vocab
from .query import TRID_FACTOR, Row, message_id, trid

CSV_HEADER = ("trid", "message_id", "status", "rcptEmail", "fromaddress", "subject", "requestedTime",
              "deliveryTime", "modifiedTime", "size", "remarks", "xapiheader", "tags", "ip", "link")

# SMTP-style remarks by status (webhook RESPONSE / log `remarks`; texts are the emulator's).
_REMARKS = {
    vocab.PROCESSED: "Request accepted for delivery",
    vocab.NC_SENT: "250 2.0.0 OK: queued as accepted by the recipient server",
    vocab.NC_DROPPED: "Dropped: the address is on the suppression list",
    vocab.NC_INVALID: "Invalid recipient address",
    vocab.HARDBOUNCE: "550 5.1.1 The email account that you tried to reach does not exist",
    vocab.SOFTBOUNCE: "452 4.2.2 The email account that you tried to reach is over quota",
    vocab.SPAM: "Marked as spam by the recipient",
    vocab.UNSUBSCRIBE: "Unsubscribed by the recipient",
}


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(ms: int, tz: str) -> str:
    return datetime.fromtimestamp(ms / 1000, zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def message_size(message_id_: int, seed: int) -> int:
    return 6_000 + h(seed, 70, message_id_) % 60_000  # bytes (webhook MSIZE); emulator derivation


def record(core: Core, row: Row) -> dict[str, Any]:
    ev, status, msg = row
    tz = core.settings.netcore_timezone
    when = local_time(ev.ts, tz)
    opens: list[dict[str, str]] = []
    clicks: list[dict[str, str]] = []
    if status == vocab.OPEN:
        opens.append({"ip": ev.ip, "time": when})
    elif status == vocab.CLICK:
        link = msg.links[ev.link].url if 0 <= ev.link < len(msg.links) else ""
        clicks.append({"ip": ev.ip, "link": link, "time": when})
    return {
        "trid": trid(ev),
        "message_id": message_id(core, ev),
        "rcptEmail": core.world.recipient(ev.recipient).email,
        "fromaddress": msg.sender_email,
        "subject": msg.subject_for(ev.variation),
        "status": status,
        "requestedTime": local_time(msg.send_ms, tz),  # the send request of the campaign
        "deliveryTime": when if status == vocab.NC_SENT else "",
        "modifiedTime": when,  # when this event happened
        "size": message_size(msg.id, core.settings.seed),
        "remarks": _REMARKS.get(status, ""),
        "xapiheader": msg.xapiheader,
        "tags": ",".join(msg.tags),
        "opens": opens,
        "clicks": clicks,
    }


def csv_rows(core: Core, rows: Iterable[Row]) -> Iterator[tuple[Any, ...]]:
    """CSV rows for the download: the record's fields, opens/clicks flattened to ip and link."""
    for row in rows:
        rec = record(core, row)
        activity = (rec["opens"] or rec["clicks"] or [{}])[0]
        yield (rec["trid"], rec["message_id"], rec["status"], rec["rcptEmail"], rec["fromaddress"],
               rec["subject"], rec["requestedTime"], rec["deliveryTime"], rec["modifiedTime"], rec["size"],
               rec["remarks"], rec["xapiheader"], rec["tags"], activity.get("ip", ""), activity.get("link", ""))


def csv_lines(core: Core, hours: Iterable[list[Row]]) -> Iterator[str]:
    """The rows of `csv_rows` as CSV text, from rows an hour's list at a time (query.hour_rows), put
    together from writers.utf8_text pieces: written out with line_stream(..., encoding="latin-1").

    What a row shares with the rows of its message, variation and status is rendered once: the text around
    the address and the columns after the time; an hour's trids and message ids are computed at once; the
    four shapes of a row are four f-strings (figures: docs/performance.md)."""
    world, seed, tz = core.world, core.settings.seed, core.settings.netcore_timezone
    recipient = world.recipient
    clock = LocalSeconds(zone(tz))
    # (message, variation, status) -> (shape, ",status,", ",fromaddress,subject,requestedTime,[,]" up to the
    # time, ",size,remarks,xapiheader,tags,[,]" after it)
    parts: dict[tuple[int, int, str], tuple[int, str, str, str]] = {}
    links: dict[tuple[int, int], str] = {}
    for hour_rows in hours:
        trids, ids = _id_columns(world, [row[0] for row in hour_rows])
        for k, (ev, status, msg) in enumerate(hour_rows):
            key = (ev.message_id, ev.variation, status)
            part = parts.get(key)
            if part is None:
                part = parts[key] = _parts(msg, ev.variation, status, seed, tz)
            shape, before, middle, tail = part
            when = clock(ev.ts)
            # An IP is digits and dots, an address slugs, digits, dots and a domain (test_world): never quoted,
            # and ASCII, so each is its own utf8_text.
            # Each shape's row one f-string, not a shared head joined again.
            trid, mid, email = trids[k], ids[32 * k:32 * k + 32], recipient(ev.recipient).email
            if shape == _PLAIN:
                yield f"{trid},{mid}{before}{email}{middle}{when}{tail}"
            elif shape == _DELIVERED:  # deliveryTime and modifiedTime
                yield f"{trid},{mid}{before}{email}{middle}{when},{when}{tail}"
            elif shape == _OPENED:
                yield f"{trid},{mid}{before}{email}{middle}{when}{tail}{ev.ip},"
            else:
                link = links.get((ev.message_id, ev.link))
                if link is None:
                    url = msg.links[ev.link].url if 0 <= ev.link < len(msg.links) else ""
                    link = links[(ev.message_id, ev.link)] = utf8_text(csv_field(url))
                yield f"{trid},{mid}{before}{email}{middle}{when}{tail}{ev.ip},{link}"


_PLAIN, _DELIVERED, _OPENED, _CLICKED = range(4)
_SHAPES = {vocab.NC_SENT: _DELIVERED, vocab.OPEN: _OPENED, vocab.CLICK: _CLICKED}


def _parts(msg: Message, variation: int, status: str, seed: int, tz: str) -> tuple[int, str, str, str]:
    """A row's shape and the text it shares with its message, variation and status (see csv_lines)."""
    shape = _SHAPES.get(status, _PLAIN)
    sent = csv_line((msg.sender_email, msg.subject_for(variation), local_time(msg.send_ms, tz)))
    tail = csv_line((message_size(msg.id, seed), _REMARKS.get(status, ""), msg.xapiheader, ",".join(msg.tags)))
    return (shape, f",{status},",
            utf8_text(f",{sent}," + ("" if shape == _DELIVERED else ",")),  # an empty deliveryTime
            utf8_text(f",{tail}," + ("," if shape in (_PLAIN, _DELIVERED) else "")))  # no ip, no link


def _id_columns(world: World, events: list[Event]) -> tuple[list[int], str]:
    """(trids, message ids) of an hour's rows at once: trid_of of each, and message_id() of each as 32 hex
    digits, row k's at [32 k, 32 k + 32), computed with numpy for the whole hour."""
    np = vector._numpy()
    messages = np.fromiter(map(_MESSAGE_ID, events), np.int64, len(events))
    recipients = np.fromiter(map(_RECIPIENT, events), np.int64, len(events))
    return (messages * TRID_FACTOR + recipients).tolist(), world.message_guids_hex(messages, recipients)


_MESSAGE_ID, _RECIPIENT = attrgetter("message_id"), attrgetter("recipient")
