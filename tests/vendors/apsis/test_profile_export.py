"""Profile in segment event export (seed apsis-one-profile-event-export.txt): request, poll URL, JSON file."""

from __future__ import annotations

import errno
import gzip
import json
import os
import tempfile
from datetime import UTC, datetime

import pytest

from emulator.vendors.apsis import profile_json
from emulator.world import model as m

from .conftest import iso, local, make_apsis

START = datetime(2026, 3, 2, tzinfo=UTC)
WEEK_MS = 7 * 86_400_000


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def request_export(apsis, body):
    r = apsis.post("/audience/profiles/exports", body)
    assert r.status_code == 202, r.data
    return r.json["file_download_url"]


def test_client_flow_every_field_matches_the_world(apsis):
    """Token, lookups, request, poll with back-off (404 until ready), then the JSON: profiles keyed by
    export key, sections by section id, attributes by id holding {value} (tags null), events with
    correlationId, sourceEventTime, typeId, createdAt, data (seed 2, "Export file")."""
    world, cat = apsis.core.world, apsis.core.world.catalog
    section = apsis.get("/audience/sections").json["items"][0]["discriminator"]
    attrs = {
        a["discriminator"]: a for a in apsis.get(f"/audience/sections/{section}/attributes").json["items"]
    }
    tags = apsis.get(f"/audience/sections/{section}/tags").json["items"][:2]
    events = {e["discriminator"]: e for e in apsis.get(f"/audience/sections/{section}/events").json["items"]}
    opened, clicked = events["com.apsis1.events.email.opened"], events["com.apsis1.events.email.clicked"]
    email_attr, birth_attr = attrs["com.apsis1.attributes.email"], attrs["com.apsis1.attributes.birthdate"]
    url = request_export(
        apsis,
        {
            "attributes": [email_attr["discriminator"], birth_attr["discriminator"]],
            "tags": [t["discriminator"] for t in tags],
            "events": [opened["discriminator"], clicked["discriminator"]],
            "start_at": iso(START),
        },
    )
    assert apsis.client.get(local(url), headers=apsis.headers).status_code == 404  # not ready yet
    r = apsis.poll_profiles(url)
    assert (
        r.status_code == 200 and r.content_type == "application/json" and "Content-Encoding" not in r.headers
    )
    doc = json.loads(r.data)
    by_key = {world.profile_key(i): world.recipient(i) for i in range(world.size)}
    assert set(doc) == set(by_key)  # no segment_filter: every profile on the account
    section_ids = {s["id"] for s in apsis.get("/audience/sections").json["items"]}
    type_ids = {opened["versions"][-1]["id"]: m.OPENED, clicked["versions"][-1]["id"]: m.CLICKED}
    expected_events = {}
    for e in world.events(ms(START), ms(START) + WEEK_MS, (m.OPENED, m.CLICKED)):  # end_at: start_at + 1 week
        if e.channel == m.EMAIL and e.message_id:
            expected_events.setdefault(e.recipient, []).append(e)
    total = 0
    section_index = {section.id: section.index for section in cat.sections}
    for key, profile in doc.items():
        person = by_key[key]
        # the profile's own section and those of its lists (each event sits in its activity's section)
        assert [section_index[s] for s in profile["sections"]] == list(world.profile_sections(person.index))
        assert cat.sections[person.section].id in profile["sections"]
        assert set(profile["sections"]) <= section_ids
        for section_id, sec in profile["sections"].items():
            values = sec["attributes"]
            assert values[str(email_attr["versions"][-1]["id"])] == {"value": person.email}
            assert values[str(birth_attr["versions"][-1]["id"])] == {"value": person.birthdate}
            for t in tags:
                assert (str(t["id"]) in values) == world.has_tag(t["id"], person.index)
                if str(t["id"]) in values:
                    assert values[str(t["id"])] == {"value": None}  # seed 2: tags are always null
            assert len(values) == 2 + sum(world.has_tag(t["id"], person.index) for t in tags)
            mine = [e for e in expected_events.get(person.index, [])
                    if world.message(e.message_id).section == section_index[section_id]]
            assert len(sec["events"]) == len(mine)
            for got, e in zip(sec["events"], mine):
                assert got["correlationId"] == world.correlation_id(e)
                assert got["sourceEventTime"] == e.source_ts and got["createdAt"] == e.ts
                assert type_ids[got["typeId"]] == e.type
                assert got["data"]["activity_id"] == e.message_id and got["data"]["device"] == e.device
                if e.type == m.CLICKED:
                    assert got["data"]["link_url"] == world.message(e.message_id).links[e.link].url
            assert "topics" not in sec  # only what was requested
            total += len(mine)
    assert total > 0


def test_gzip_on_request_and_identical_content_every_time(apsis):
    """Seed 2: Accept-Encoding: gzip -> Content-Encoding: gzip; the same export downloads many times."""
    url = request_export(apsis, {"attributes": ["com.apsis1.attributes.email"]})
    plain = apsis.poll_profiles(url)
    zipped = apsis.client.get(local(url), headers={**apsis.headers, "Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert apsis.client.get(local(url), headers=apsis.headers).data == plain.data
    refused = apsis.client.get(local(url), headers={**apsis.headers, "Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_poll_url_needs_the_bearer_token(apsis):
    """Seed 2: call the poll URL "using the same authentication token"."""
    url = request_export(apsis, {"attributes": ["com.apsis1.attributes.email"]})
    assert apsis.client.get(local(url)).status_code == 401


def test_poll_url_returns_410_after_one_day(apsis):
    """Seed 2: "returns a poll URL that is valid for 1 day"; 410 Gone once no longer available."""
    url = request_export(apsis, {"attributes": ["com.apsis1.attributes.email"]})
    apsis.core.clock.advance(86_400 - 10)
    apsis.refresh()
    assert apsis.client.get(local(url), headers=apsis.headers).status_code == 200
    apsis.core.clock.advance(11)
    r = apsis.client.get(local(url), headers=apsis.headers)
    assert r.status_code == 410 and r.content_type == "application/problem+json"


def test_unknown_export_id_gets_410(apsis):
    """Seed 2: "The HTTP 410 Gone means that ... the ID used is invalid"."""
    r = apsis.get("/audience/profiles/exports/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 410


def test_failed_processing_gets_503(apsis):
    """Seed 2: "In rare cases when the export processing has failed, calling the poll URL returns 503"."""
    apsis.core.faults.activate(["export-fails"])
    url = request_export(apsis, {"attributes": ["com.apsis1.attributes.email"]})
    r = apsis.poll_profiles(url)
    assert r.status_code == 503 and r.content_type == "application/problem+json"
    apsis.core.faults.activate(["default"])
    assert (
        apsis.poll_profiles(
            request_export(apsis, {"attributes": ["com.apsis1.attributes.email"]})
        ).status_code
        == 200
    )


def test_too_large_at_download_via_scenario_gets_503(apsis):
    """Seed 2: size errors may come "when attempting to request or download an export"."""
    apsis.core.faults.activate(["oversized-request"])
    r = apsis.poll_profiles(request_export(apsis, {"attributes": ["com.apsis1.attributes.email"]}))
    assert r.status_code == 503 and "size" in r.json["detail"]


def test_too_large_at_request_gets_413_and_a_smaller_one_succeeds(tmp_path):
    apsis = make_apsis(tmp_path, apsis_export_size_limit=2_000)
    cat = apsis.core.world.catalog
    r = apsis.post("/audience/profiles/exports", {"attributes": [a.discriminator for a in cat.attributes]})
    assert r.status_code == 413 and r.content_type == "application/problem+json"
    assert (
        apsis.post("/audience/profiles/exports", {"attributes": ["com.apsis1.attributes.email"]}).status_code
        == 202
    )


def test_no_attribute_or_tag_means_no_profiles(apsis):
    """Seed 2: "you still need to request at least one attribute or tag for the profiles to even show up"."""
    url = request_export(apsis, {"events": ["com.apsis1.events.email.opened"], "start_at": iso(START)})
    assert json.loads(apsis.poll_profiles(url).data) == {}


def test_start_at_is_mandatory_with_events(apsis):
    r = apsis.post(
        "/audience/profiles/exports",
        {"attributes": ["com.apsis1.attributes.email"], "events": ["com.apsis1.events.email.opened"]},
    )
    assert r.status_code == 400 and r.json["detail"].startswith("start_at")


def test_end_at_defaults_to_one_week_after_start_at(apsis):
    """Seed 2: "When end_at is not provided in a request, it is defaulted to one week after start_at"."""
    body = {
        "attributes": ["com.apsis1.attributes.email"],
        "events": ["com.apsis1.events.email.sent"],
        "start_at": iso(START),
    }
    doc = json.loads(apsis.poll_profiles(request_export(apsis, body)).data)
    times = [e["createdAt"] for p in doc.values() for s in p["sections"].values() for e in s["events"]]
    assert times and min(times) >= ms(START) and max(times) < ms(START) + WEEK_MS
    assert max(times) > ms(START) + WEEK_MS - 2 * 86_400_000


def test_segment_filter_exports_only_that_segment(apsis):
    """Seed 2: with segment_filter only the profiles from the selected segment are exported."""
    world = apsis.core.world
    seg = world.catalog.segments[0]
    body = {
        "attributes": ["com.apsis1.attributes.email"],
        "segment_filter": {"segment_discriminator": seg.discriminator},
    }
    doc = json.loads(apsis.poll_profiles(request_export(apsis, body)).data)
    members = {world.profile_key(i) for i in range(world.size) if world.in_segment(seg.id, i)}
    assert set(doc) == members


def test_topics_show_subscription_state(apsis):
    world = apsis.core.world
    lst = world.catalog.lists[0]
    body = {"tags": [world.catalog.tags[0].discriminator], "topics": [lst.topic]}
    doc = json.loads(apsis.poll_profiles(request_export(apsis, body)).data)
    by_key = {world.profile_key(i): i for i in range(world.size)}
    until = apsis.core.clock.now_ms()
    states = set()
    for key, profile in doc.items():
        r = by_key[key]
        for section_id, sec in profile["sections"].items():
            if section_id == world.catalog.sections[lst.section].id:  # a topic sits in its list's section
                assert sec["topics"] == {lst.topic: {"subscribed": world.subscribed(lst.id, r, until)}}
                states.add(sec["topics"][lst.topic]["subscribed"])
            else:
                assert "topics" not in sec
    assert states == {True, False}


def test_limits_window_attributes_tags_and_pending(tmp_path):
    """Seed 2: three months, 75 attributes, 25 tags validated when requesting; pending limit -> 429."""
    apsis = make_apsis(tmp_path, apsis_pending_export_limit=1)
    cat = apsis.core.world.catalog
    r = apsis.post(
        "/audience/profiles/exports",
        {
            "attributes": ["com.apsis1.attributes.email"],
            "events": ["com.apsis1.events.email.sent"],
            "start_at": "2025-11-01T00:00:00Z",
            "end_at": "2026-02-02T00:00:00Z",
        },
    )
    assert r.status_code == 400 and r.json["detail"].startswith("end_at")
    r = apsis.post("/audience/profiles/exports", {"attributes": [f"a{i}" for i in range(76)]})
    assert r.status_code == 400 and "attributes" in r.json["detail"] and "75" in r.json["detail"]
    r = apsis.post("/audience/profiles/exports", {"tags": [f"t{i}" for i in range(26)]})
    assert r.status_code == 400 and "tags" in r.json["detail"] and "25" in r.json["detail"]
    r = apsis.post("/audience/profiles/exports", {"tags": ["usercreated.tags.nope"]})
    assert r.status_code == 400 and r.json["detail"].startswith("tags[0]")
    assert apsis.post("/audience/profiles/exports", {"tags": [cat.tags[0].discriminator]}).status_code == 202
    r = apsis.post("/audience/profiles/exports", {"tags": [cat.tags[0].discriminator]})
    assert r.status_code == 429 and r.content_type == "application/problem+json"


def test_rate_limited_scenario_allows_one_profile_export_per_second(apsis):
    """DEV-LIMITS: "Profile exports" 1 request per second (scenario rate-limited)."""
    apsis.core.faults.activate(["rate-limited"])
    body = {"attributes": ["com.apsis1.attributes.email"]}
    assert apsis.post("/audience/profiles/exports", body).status_code == 202
    assert apsis.post("/audience/profiles/exports", body).status_code == 429


def _every_event_export(apsis) -> str:
    section = apsis.get("/audience/sections").json["items"][0]["discriminator"]
    events = [e["discriminator"] for e in apsis.get(f"/audience/sections/{section}/events").json["items"]]
    return request_export(apsis, {"attributes": ["com.apsis1.attributes.email"], "events": events,
                                  "start_at": iso(START)})


def _spilling(monkeypatch, spill_dir) -> list[int]:
    """Buckets, scan blocks and runs small enough for the test's week to be written through temporary files,
    made in spill_dir; returns the list each block written to them is recorded in."""
    spilled: list[int] = []
    real_spill = profile_json._spill
    monkeypatch.setattr(profile_json, "EVENTS_PER_BUCKET", 2_000)
    monkeypatch.setattr(profile_json, "EVENTS_PER_BLOCK", 1_500)
    monkeypatch.setattr(profile_json, "_BATCH", 200)  # each block written in runs of 200 events
    monkeypatch.setattr(profile_json, "RUN_EVENTS", 1)
    monkeypatch.setattr(profile_json, "_spill", lambda *a: spilled.append(a[2]) or real_spill(*a))
    spill_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_dir))
    return spilled


def test_a_big_export_written_through_temporary_files_is_the_same_file_and_leaves_none(tmp_path, monkeypatch):
    """Seed 2's file is one JSON dictionary by profile, each profile's events in time order from the whole
    window. A big export groups them through temporary files (memory: one bucket of profiles at a time);
    the file is byte for byte the one grouped in memory, and the files are gone once it is sent."""
    apsis = make_apsis(tmp_path, export_processes=1)
    url = _every_event_export(apsis)
    in_memory = apsis.poll_profiles(url)
    assert in_memory.status_code == 200
    spilled_blocks = _spilling(monkeypatch, tmp_path / "spill")
    spilled = apsis.client.get(local(url), headers=apsis.headers)
    assert spilled.status_code == 200 and len(spilled_blocks) > 3
    assert spilled.data == in_memory.data
    assert sum(len(p["sections"].popitem()[1]["events"]) for p in json.loads(spilled.data).values()) > 2_000 * 3
    assert not any((tmp_path / "spill").iterdir())


def test_a_download_stopped_early_removes_its_temporary_files(tmp_path, monkeypatch):
    """A client that goes away mid-file leaves nothing behind on the emulator's disk."""
    apsis = make_apsis(tmp_path, export_processes=1)
    url = _every_event_export(apsis)
    assert apsis.poll_profiles(url).status_code == 200
    spilled_blocks = _spilling(monkeypatch, tmp_path / "spill")
    r = apsis.client.get(local(url), headers=apsis.headers, buffered=False)
    first = next(iter(r.response))
    assert first.startswith(b"{") and spilled_blocks and any((tmp_path / "spill").iterdir())
    r.close()
    assert not any((tmp_path / "spill").iterdir())


def test_no_writable_temporary_directory_gets_503_before_the_file_starts(tmp_path, monkeypatch):
    """A file big enough to be written through temporary files needs $TMPDIR: without it the poll URL
    answers seed 2's 503 (processing failed) naming the cause, never a 200 whose file stops midway; a
    small export needs none and is served."""
    apsis = make_apsis(tmp_path, export_processes=1)
    big = _every_event_export(apsis)
    small = request_export(apsis, {"attributes": ["com.apsis1.attributes.email"]})
    monkeypatch.setattr(profile_json, "EVENTS_PER_BUCKET", 2_000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-directory"))
    r = apsis.poll_profiles(big)
    assert r.status_code == 503 and r.content_type == "application/problem+json"
    assert "temporary directory" in r.json["detail"] and "no-such-directory" in r.json["detail"]
    assert apsis.client.get(local(small), headers=apsis.headers).status_code == 200


class _FullDisk:
    """A file whose writes fail as on a full disk (ENOSPC)."""

    def __init__(self, path, mode="r", *args, **kwargs):
        self._file = open(path, mode, *args, **kwargs)  # noqa: SIM115 - closed by __exit__

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def tell(self):
        return self._file.tell()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@pytest.mark.parametrize("processes", [1, 2])
def test_a_full_temporary_directory_gets_503_problem_json_and_leaves_nothing(tmp_path, monkeypatch, processes):
    """Issue 21: a full $TMPDIR while a big file spilled answered a 500 HTML page. The temporary files are
    written before the first byte, so the poll URL answers seed 2's 503 ("processing failed") as
    problem+json naming the cause (in this process, or in the processes the scan is forked to), removes
    what it wrote, and serves the file once there is room."""
    apsis = make_apsis(tmp_path, export_processes=processes)
    url = _every_event_export(apsis)
    _spilling(monkeypatch, tmp_path / "spill")
    monkeypatch.setattr(profile_json, "worth_forking", lambda processes, work, blocks: processes > 1)
    monkeypatch.setattr(profile_json, "open", _FullDisk, raising=False)
    r = apsis.poll_profiles(url)  # polls past the 404s of a pending export
    assert r.status_code == 503 and r.content_type == "application/problem+json"
    assert "No space left on device" in r.json["detail"] and r.json["status"] == 503
    assert not any((tmp_path / "spill").iterdir())
    monkeypatch.delattr(profile_json, "open")
    again = apsis.client.get(local(url), headers=apsis.headers)
    assert again.status_code == 200 and json.loads(again.data)
