"""Streaming writers (CSV, JSON, gzip) and the export job lifecycle on the virtual clock."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid

import pytest

from emulator.exports import ExportModifiers
from emulator.writers import (
    LocalSeconds,
    coalesce,
    csv_line,
    csv_stream,
    gzip_stream,
    json_members,
    json_object_stream,
    line_stream,
    utf8_text,
)

ROWS = [["1", 'He said "hi", then left', "Zürich, CH"], ["2", "line\nbreak", ""], ["3", "plain", "ąęś 日本"]]


def test_csv_stream_quotes_rfc4180_and_round_trips():
    data = b"".join(csv_stream(["id", "text", "place"], iter(ROWS), batch=1)).decode()
    assert data.startswith("id,text,place\r\n")
    assert '"He said ""hi"", then left"' in data
    assert list(csv.reader(io.StringIO(data, newline=""))) == [["id", "text", "place"], *ROWS]


def test_csv_stream_line_end_and_bom_options():
    data = b"".join(csv_stream(["a"], iter([["x"]]), line_end="\n", bom=True))
    assert data == "\ufeffa\nx\n".encode()


def test_csv_stream_always_has_a_header_even_without_rows():
    assert b"".join(csv_stream(["a", "b"], iter([]))) == b"a,b\r\n"


def test_rows_of_utf8_text_pieces_write_the_bytes_of_the_csv_module():
    """Rows put together from utf8_text pieces and written as latin-1 are the UTF-8 CSV of the same text,
    whatever the script (one, two, three and four bytes a character), quoting included."""
    rows = [["ASCII only", "a,b"], ["Zoë, Édition spéciale", "x"], ["आपके लिए खास ऑफ़र – 株式会社", 'say "hi"'],
            ["🎉 launch", ""], ["plain", "again"]]
    reference = b"".join(csv_stream(["subject", "note"], iter(rows)))
    fast = b"".join(line_stream(["subject", "note"], (utf8_text(csv_line(row)) for row in rows), batch=2,
                                encoding="latin-1"))
    assert fast == reference
    assert b"".join(line_stream(None, [utf8_text("Zoë")], encoding="latin-1")) == "Zoë\r\n".encode()


def test_gzip_stream_is_valid_and_byte_identical_across_runs():
    chunks = [b"x" * 1000, b"y" * 50_000, b"z"]
    first = b"".join(gzip_stream(iter(chunks)))
    assert first == b"".join(gzip_stream(iter(chunks)))
    assert gzip.decompress(first) == b"".join(chunks)
    assert first[4:8] == b"\0\0\0\0"  # no time stamp in the gzip header


def test_json_object_stream_is_one_valid_object():
    pairs = ((f"k{i}", {"v": i, "s": "å\"q"}) for i in range(1000))
    doc = json.loads(b"".join(json_object_stream(pairs, batch=7)))
    assert len(doc) == 1000 and doc["k999"] == {"v": 999, "s": "å\"q"}
    assert json.loads(b"".join(json_object_stream(iter([])))) == {}


def test_json_members_write_what_the_json_module_writes():
    """The profile export's JSON (seed 2) is written by orjson: the bytes of json.dumps(ensure_ascii=False,
    separators=(",", ":")) for every kind of value a profile holds: non-ASCII and control characters,
    U+2028, quotes, int keys, and lifetime values (cents up to 4,999.99: orjson writes floats below 1e-4
    differently, and the world has none)."""
    values = ["Zoë, ß", "日本", "\u2028\x1f\x7f", 'say "hi" \\ ', "", 0, -7, 2**53, True, False, None, 0.0,
              {"attributes": {"12": {"value": None}}, "events": [{"data": {"link_url": "https://x.test/?a=1&b=é"}}]},
              {5: {"subscribed": True}}, [1.5, "x"]]
    values += [round(k / 100, 2) for k in range(0, 500_000, 997)]
    items = [(f"k{i}", v) for i, v in enumerate(values)]
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    expected = ",".join(encode(k) + ":" + encode(v) for k, v in items).encode()
    assert b"".join(json_members(items, batch=3)) == expected
    first_two = ",".join(encode(k) + ":" + encode(v) for k, v in items[:2]).encode()
    assert b"".join(json_members(items[:2], after_others=True)) == b"," + first_two


@pytest.mark.parametrize("zone", ["Europe/Stockholm", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe",
                                  "America/St_Johns", "UTC"])
def test_local_seconds_is_datetimes_local_time(zone):
    """ExpertSender's and Netcore's local times, put together from the hour's offset, are what datetime
    gives: across DST changes (on and off the UTC hour, 30-minute ones too), in years 1 to 9999."""
    import random
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz, rng = ZoneInfo(zone), random.Random(zone)
    local = LocalSeconds(tz)
    seconds = [rng.randrange(-62_000_000_000, 253_000_000_000) for _ in range(3000)]
    seconds += range(1_700_000_000, 1_700_000_000 + 366 * 86_400, 3_599)  # a year: each of its transitions
    for second in seconds:
        assert local(second * 1000 + 999) == datetime.fromtimestamp(second, tz).strftime("%Y-%m-%d %H:%M:%S")


def test_coalesce_joins_small_chunks():
    out = list(coalesce((b"a" * 10 for _ in range(100)), size=256))
    assert b"".join(out) == b"a" * 1000 and all(len(c) >= 256 for c in out[:-1])


@pytest.fixture
def exports(core):
    return core.exports


def test_job_is_pending_until_ready_then_expires(core, exports):
    job = exports.create("apsis", "email-events", {"start_at": "x"}, estimated_events=400_000, ttl=600)
    assert job.ready_at - job.created_at == pytest.approx(core.settings.export_delay + 2.0)
    now = core.clock.now()
    assert job.state(now) == "pending"
    assert job.state(job.ready_at) == "ready"
    assert job.state(job.ready_at + 599) == "ready"
    assert job.state(job.ready_at + 600) == "expired"
    assert exports.get(job.id).request == {"start_at": "x"}


def test_job_ids_never_repeat_after_reset_and_are_not_derived_from_each_other(tmp_path):
    """Issue 21: ids must never repeat within a state dir (a reset once made an old signed Netcore download
    URL serve another job's file) and must not be guessable from each other: two servers of the same seed
    give different ids, and ids keep the UUID shape APSIS and Netcore use."""
    from emulator.core import build_core
    from emulator.settings import Settings

    core = build_core(Settings(state_dir=str(tmp_path / "a")))
    before = [core.exports.create("apsis", "k", {}, estimated_events=0, ttl=1).id for _ in range(3)]
    core.reset()
    after = [core.exports.create("apsis", "k", {}, estimated_events=0, ttl=1).id for _ in range(3)]
    other = build_core(Settings(state_dir=str(tmp_path / "b"))).exports
    elsewhere = [other.create("apsis", "k", {}, estimated_events=0, ttl=1).id for _ in range(3)]
    assert len(set(before + after + elsewhere)) == 9
    assert all(str(uuid.UUID(i)) == i for i in before + after)


@pytest.mark.parametrize("modifiers, state_after_ready", [
    (ExportModifiers(outcome="fail"), "failed"),
    (ExportModifiers(outcome="too_large"), "failed"),
    (ExportModifiers(outcome="never_ready"), "pending"),
])
def test_fault_outcomes(exports, modifiers, state_after_ready):
    job = exports.create("netcore", "logs", {}, estimated_events=0, ttl=600, modifiers=modifiers)
    assert job.state(job.ready_at + 1) == state_after_ready


def test_slow_and_early_expiry_modifiers(exports):
    job = exports.create("netcore", "logs", {}, estimated_events=0, ttl=600,
                         modifiers=ExportModifiers(extra_delay=900, expires_after=30))
    assert job.ready_at - job.created_at == pytest.approx(exports._base_delay + 900)
    assert job.expires_at - job.ready_at == pytest.approx(30)


def test_size_limit_makes_the_job_too_large(exports):
    job = exports.create("apsis", "email-events", {}, estimated_events=11, ttl=60, size_limit=10)
    assert job.outcome == "too_large" and job.state(job.ready_at) == "failed"


def test_pending_count_for_limits(core, exports):
    for _ in range(3):
        exports.create("apsis", "profile-events", {}, estimated_events=0, ttl=60)
    assert exports.count_in_state("apsis", "profile-events", "pending") == 3
    core.clock.advance(core.settings.export_delay + 1)
    assert exports.count_in_state("apsis", "profile-events", "pending") == 0
