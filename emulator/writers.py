"""Streaming writers: CSV rows and JSON fragments to bytes chunks, and gzip over any chunk stream.

Everything is a generator of bytes, written straight into the response, so memory stays flat whatever
the export size. Output is byte-identical for identical input (gzip header carries no time stamp).
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

CHUNK_BYTES = 64 * 1024  # write in 64 KiB pieces: fewer, larger socket writes


def gzip_stream(chunks: Iterable[bytes], level: int = 6) -> Iterator[bytes]:
    """Gzip-compress a chunk stream (RFC 1952 member; header mtime 0, so output is reproducible)."""
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = comp.compress(chunk)
        if out:
            yield out
    yield comp.flush()


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


def json_object_stream(items: Iterable[tuple[str, Any]], *, batch: int = 256) -> Iterator[bytes]:
    """A JSON object `{"k": v, ...}` written one member at a time from (key, value) pairs."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    parts = ["{"]
    first = True
    n = 0
    for key, value in items:
        parts.append(("" if first else ",") + dumps(key) + ":" + dumps(value))
        first = False
        n += 1
        if n >= batch:
            yield "".join(parts).encode()
            parts, n = [], 0
    parts.append("}")
    yield "".join(parts).encode()
