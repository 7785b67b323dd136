"""The fast row renderers (pre-escaped templates) write exactly what csv.writer writes for the reference
field lists: every export keeps RFC 4180 quoting while skipping csv.writer (issue 7, byte-identical output).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from emulator.vendors.apsis import email_csv
from emulator.vendors.apsis.account import Account
from emulator.vendors.expertsender import activities
from emulator.vendors.expertsender.columns import FLAGS, TYPES
from emulator.vendors.netcore import records
from emulator.vendors.netcore.query import Query, hour_rows, hours
from emulator.vendors.netcore.query import rows as netcore_rows
from emulator.world.world import DAY_MS
from emulator.writers import csv_field, csv_line, csv_stream, line_stream

DAY = date(2026, 3, 8)
START_MS = (DAY - date(1970, 1, 1)).days * DAY_MS


def both(header, reference_rows, fast_lines, encoding="utf-8", **kw) -> tuple[bytes, bytes]:
    return (b"".join(csv_stream(header, reference_rows, **kw)),
            b"".join(line_stream(header, fast_lines, encoding=encoding, **kw)))


@pytest.mark.parametrize("value", ["plain", "", "a,b", 'say "hi"', "line\nbreak", "cr\rhere", "Zoë, ß", 42, None,
                                   'x,"y"'])
def test_csv_field_quotes_as_csv_writer_does(value):
    """RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled; others verbatim."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([value, "z"])
    assert csv_line([value, "z"]) + "\r\n" == buf.getvalue()
    assert csv_field(value) == buf.getvalue()[:-4]


@pytest.mark.parametrize("line_end,bom", [("\r\n", False), ("\n", True)])
def test_line_stream_matches_csv_stream_with_header_bom_and_line_end(line_end, bom):
    header = ["id", "text"]
    data = [[i, f'row "{i}", with comma'] for i in range(2500)]
    reference, fast = both(header, iter(data), (csv_line(r) for r in data), line_end=line_end, bom=bom)
    assert fast == reference
    empty_reference, empty_fast = both(header, iter(()), iter(()), line_end=line_end, bom=bom)
    assert empty_fast == empty_reference  # the header row alone, even for no rows


def test_apsis_lines_equal_reference_rows(core):
    """Seed 1 file: the 20 default columns, then attributes and tags, quoted as the csv module quotes."""
    acc = Account(core)
    cat = core.world.catalog
    request = {"start_ms": START_MS, "until_ms": START_MS + DAY_MS, "sections": None, "segment_id": None,
               "attributes": [{"discriminator": a.discriminator, "version_id": 1} for a in cat.attributes[:8]],
               "tags": [{"discriminator": t.discriminator, "id": t.id} for t in cat.tags[:3]]}
    header = email_csv.header(request)
    reference, fast = both(header, email_csv.rows(acc, request), email_csv.lines(acc, request), "latin-1")
    assert fast == reference and reference.count(b"\n") > 1000
    assert b'"' in reference  # names and subjects with commas and quotes are in the sample
    assert not reference.isascii()  # and in other scripts: their UTF-8 bytes as they should be


@pytest.mark.parametrize("activity", TYPES)
@pytest.mark.parametrize("variant", ["standard", "every flag"])
def test_expertsender_lines_equal_reference_rows(core, activity, variant):
    """Seed tables: every type, with and without every conditional column."""
    tz = ZoneInfo(core.settings.expertsender_timezone)
    q = activities.ActivityQuery(activity=activity, day=DAY)
    if variant == "every flag":
        q = activities.ActivityQuery(activity=activity, day=DAY, channel="All", extended=True,
                                     flags={f: True for f in FLAGS})
    reference, fast = both(q.header(), activities.rows(core.world, q, tz), activities.lines(core.world, q, tz),
                           "latin-1")
    assert fast == reference


def test_netcore_download_lines_equal_reference_rows(core):
    """Download Logs CSV: the record's fields, opens and clicks flattened to ip and link."""
    q = Query.from_dict({"start_ms": START_MS, "end_ms": START_MS + DAY_MS})
    until = START_MS + 2 * DAY_MS
    reference, fast = both(records.CSV_HEADER, records.csv_rows(core, netcore_rows(core, q, until)),
                           records.csv_lines(core, hour_rows(core, q, until, hours(core, q, until))), "latin-1")
    assert fast == reference and reference.count(b"\n") > 1000
    assert not reference.isascii()  # subjects in Hindi, Japanese, French: their UTF-8 bytes as they should be
