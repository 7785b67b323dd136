"""Streaming writers: CSV rows and JSON fragments to bytes chunks, and gzip over any chunk stream.

Everything is a generator of bytes, written straight into the response, so memory stays flat whatever
the export size. Output is byte-identical for identical input (gzip header carries no time stamp).
"""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import orjson

CHUNK_BYTES = 64 * 1024  # write in 64 KiB pieces: fewer, larger socket writes


def gzip_stream(chunks: Iterable[bytes], level: int = 6) -> Iterator[bytes]:
    """Gzip-compress a chunk stream (RFC 1952 member; header mtime 0, so output is reproducible).

    zlib releases the GIL while it deflates, so chunk k is compressed on a helper thread while the caller
    renders chunk k+1: an export costs about max(render, deflate) instead of their sum on two cores
    (docs/performance.md). Calls stay in order on one compressor: same bytes."""
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    with ThreadPoolExecutor(1, thread_name_prefix="gzip") as pool:
        pending: Future[bytes] | None = None
        try:
            for chunk in chunks:
                following = pool.submit(comp.compress, chunk)
                if pending is not None:
                    out = pending.result()
                    if out:
                        yield out
                pending = following
            if pending is not None:
                out = pending.result()
                if out:
                    yield out
        finally:
            if pending is not None:
                pending.cancel()
    yield comp.flush()


def known_length(chunks: Iterable[bytes], limit: int) -> tuple[int | None, Iterable[bytes]]:
    """(length, chunks): a stream of at most `limit` bytes is read whole, so its length is known before the
    first byte is sent (a Content-Length); a longer one is returned as a stream again, length None."""
    it = iter(chunks)
    held: list[bytes] = []
    size = 0
    for chunk in it:
        held.append(chunk)
        size += len(chunk)
        if size > limit:
            return None, _chain(held, it)
    return size, held


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def coalesce(chunks: Iterable[bytes], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Join small chunks into pieces of about `size` bytes."""
    parts: list[bytes] = []
    held = 0
    for chunk in chunks:
        parts.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(parts)
            parts, held = [], 0
    if parts:
        yield b"".join(parts)


def csv_stream(header: Sequence[str] | None, rows: Iterable[Sequence[Any]], *, line_end: str = "\r\n",
               bom: bool = False, batch: int = 512) -> Iterator[bytes]:
    """RFC 4180 CSV (comma, '"' quoting, '""' escape) as UTF-8 bytes, `batch` rows per chunk."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    if bom:
        buf.write("\ufeff")
    if header is not None:
        writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
        if n >= batch:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
            n = 0
    if buf.tell():
        yield buf.getvalue().encode()


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def csv_field(value: Any) -> str:
    """One field as csv.writer (QUOTE_MINIMAL, comma, '"') writes it, for pre-rendered row templates."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(fields: Iterable[Any]) -> str:
    """A row of fields joined as csv.writer joins them (without the line end)."""
    return ",".join(map(csv_field, fields))


def utf8_text(text: str) -> str:
    """`text` as the Latin-1 characters of its UTF-8 bytes (ASCII stays as it is), for rows that
    line_stream(..., encoding="latin-1") writes out: put together from such pieces, a row stays one byte a
    character however international its subject, and a chunk encodes as a copy. In plain text one Hindi or
    Japanese subject (or an en dash) makes the whole chunk two bytes a character and its UTF-8 encoding a
    loop over characters (docs/performance.md)."""
    return text if text.isascii() else text.encode().decode("latin-1")


def line_stream(header: Sequence[str] | None, lines: Iterable[str], *, line_end: str = "\r\n",
                bom: bool = False, batch: int = 1024, encoding: str = "utf-8") -> Iterator[bytes]:
    """CSV from rows already rendered as text (fields escaped by csv_field), `batch` rows per chunk: the
    lines are UTF-8 text, or with encoding="latin-1" put together from utf8_text pieces (the header, text
    as it is, is UTF-8 either way).

    The same bytes as csv_stream, without csv.writer building each row from a list (docs/performance.md)."""
    if bom or header is not None:
        yield (("\ufeff" if bom else "") + (csv_line(header) + line_end if header is not None else "")).encode()
    parts: list[str] = []
    for line in lines:
        parts.append(line)
        if len(parts) >= batch:
            parts.append("")  # the last row's line end
            yield line_end.join(parts).encode(encoding)
            parts = []
    if parts:
        parts.append("")
        yield line_end.join(parts).encode(encoding)


class LocalSeconds:
    """Epoch ms -> "YYYY-MM-DD HH:MM:SS" in a time zone. Consecutive rows of an export mostly share their
    second: the last second's text is kept. Otherwise the zone's UTC offset is looked up once per UTC hour
    and the text put together from tables instead of a datetime per row (Netcore's rows have a new second
    each). An hour within which the offset changes (a transition off the hour) takes datetime."""

    def __init__(self, zone: tzinfo):
        self.zone = zone
        self._second: int | None = None
        self._text = ""
        self._hour: int | None = None
        self._offset: int | None = None  # seconds, over the whole of self._hour; None where it changes within
        self._days: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        second = ms // 1000
        if second != self._second:
            self._second = second
            if second // 3600 != self._hour:
                self._hour = second // 3600
                self._offset = self._hour_offset(self._hour)
            if self._offset is None:
                self._text = datetime.fromtimestamp(second, self.zone).strftime("%Y-%m-%d %H:%M:%S")
            else:
                day, rest = divmod(second + self._offset, 86_400)
                day_text = self._days.get(day)
                if day_text is None:
                    if len(self._days) > 1024:
                        self._days.clear()
                    # strftime as datetime's: the same text for every year (%Y is not padded below 1000)
                    day_text = self._days[day] = (_EPOCH_DAY + timedelta(days=day)).strftime("%Y-%m-%d ")
                self._text = day_text + _HOURS_MINUTES[rest // 60] + _SECONDS[rest % 60]
        return self._text

    def _hour_offset(self, hour: int) -> int | None:
        first = datetime.fromtimestamp(hour * 3600, self.zone).utcoffset()
        last = datetime.fromtimestamp(hour * 3600 + 3599, self.zone).utcoffset()
        return int(first.total_seconds()) if first is not None and first == last else None


_EPOCH_DAY = date(1970, 1, 1)
_HOURS_MINUTES = tuple(f"{minute // 60:02d}:{minute % 60:02d}:" for minute in range(1440))
_SECONDS = tuple(f"{second:02d}" for second in range(60))


def json_object_stream(items: Iterable[tuple[str, Any]], *, batch: int = 256) -> Iterator[bytes]:
    """A JSON object `{"k": v, ...}` written one member at a time from (key, value) pairs."""
    yield b"{"
    yield from json_members(items, batch=batch)
    yield b"}"


def json_members(items: Iterable[tuple[str, Any]], after_others: bool = False, *, batch: int = 256) -> Iterator[bytes]:
    """The members `"k":v` of a JSON object, comma-separated (and each preceded by one when they follow
    members written before), `batch` per chunk, fewer once a chunk passes CHUNK_BYTES (a member grows with
    an export's window: a profile holds its events; 256 profiles of 78 days at scale 4 made 14 MB): compact
    UTF-8 JSON, as the json module writes it with ensure_ascii=False and separators (",", ":"), written by
    orjson for speed (docs/performance.md); test_writers_exports checks it against the json module."""
    dumps, option = orjson.dumps, orjson.OPT_NON_STR_KEYS  # int keys become strings, as json.dumps does
    parts: list[bytes] = []
    size = 0
    comma = b"," if after_others else b""
    for key, value in items:
        part = comma + dumps(key) + b":" + dumps(value, option=option)
        parts.append(part)
        size += len(part)
        comma = b","
        if len(parts) >= batch or size >= CHUNK_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)
