"""Email event export (seed apsis-one-email-event-export.txt; notes 1a/1b): request, status, download."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator.world import model as m
from emulator.world.world import PLATFORM_REMOVALS

from .conftest import iso, local, make_apsis

START, END = datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
DEFAULT_COLUMNS = [
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
]
TYPES = {
    m.SENT: "SENT",
    m.DELIVERED: "DELIVERED",
    m.OPENED: "OPENED",
    m.CLICKED: "CLICKED",
    m.BOUNCED: "BOUNCED",
    m.UNSUBSCRIBED: "UNSUBSCRIBED",
    m.COMPLAINED: "ABUSE",
}


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def request_report(apsis, body=None, **extra):
    body = body if body is not None else {"start_at": iso(START), "end_at": iso(END), **extra}
    r = apsis.post("/emails/reports", body)
    assert r.status_code == 202, r.data
    return r.json["report_id"]


def completed(apsis, **extra):
    report_id = request_report(apsis, **extra)
    return report_id, apsis.wait_for_report(report_id)


def world_events(world, start_ms, end_ms):
    """The email events APSIS exports: activity-caused email events of the seven documented types."""
    for e in world.events(start_ms, end_ms, TYPES):
        if (
            e.channel == m.EMAIL
            and e.message_id
            and not (e.type == m.UNSUBSCRIBED and e.reason in PLATFORM_REMOVALS)
        ):
            yield e


def test_client_flow_every_column_matches_the_world(apsis):
    """The documented flow: token, lookups, request, poll with back-off, download, parse; every default
    column checked against the world (seed 1, "Export file"), then attribute and tag columns."""
    world, cat = apsis.core.world, apsis.core.world.catalog
    section = apsis.get("/audience/sections").json["items"][0]["discriminator"]
    attrs = apsis.get(f"/audience/sections/{section}/attributes").json["items"]
    gender = next(a for a in attrs if a["discriminator"] == "com.apsis1.attributes.gender")
    gender_version = next(v["id"] for v in gender["versions"] if v["deprecated_at"] is None)
    vip = next(a for a in attrs if a["type"] == "boolean")
    tag = apsis.get(f"/audience/sections/{section}/tags").json["items"][0]
    report_id = request_report(
        apsis,
        additional_attribute_mappings=[
            {"attribute_discriminator": gender["discriminator"]},
            {"attribute_discriminator": vip["discriminator"]},
        ],
        additional_tag_mappings=[{"tag_discriminator": tag["discriminator"]}],
    )
    assert apsis.get(f"/emails/reports/{report_id}").json["status"] == "pending"
    status = apsis.wait_for_report(report_id)
    assert status["status"] == "completed"
    assert {"file_download_url", "file_download_url_expires_at", "file_expires_at"} <= set(status)
    rows = apsis.download_csv(status["file_download_url"])
    header, body = rows[0], rows[1:]
    vip_version = vip["versions"][-1]["id"]
    assert header == DEFAULT_COLUMNS + [
        f"gender (version_id: {gender_version})",
        f"{vip['discriminator'].rsplit('.', 1)[-1]} (version_id: {vip_version})",
        f"{tag['discriminator'].rsplit('.', 1)[-1]} (version_id: {tag['id']})",
    ]
    expected = {
        (world.correlation_id(e), e.ts, TYPES[e.type]): e for e in world_events(world, ms(START), ms(END))
    }
    assert len(body) == len(expected)
    seen_types, split_rows = set(), 0
    for row in body:
        col = dict(zip(header, row))
        e = expected[(col["correlation_id"], int(col["server_time"]), col["type"])]
        msg, person = world.message(e.message_id), world.recipient(e.recipient)
        seen_types.add(col["type"])
        assert int(col["activity_id"]) == msg.id and col["activity_name"] == msg.name
        assert int(col["split_id"]) == msg.split_id(e.variation)
        assert col["sender"] == msg.sender_name and col["subject"] == msg.subject_for(e.variation)
        assert col["address"] == person.email
        assert int(col["event_time"]) == e.source_ts
        if msg.is_split:
            split_rows += 1
            assert col["variation"] and col["split_activity_name"]
            if e.variation == len(msg.variations):  # winning partition: split_id is the activity itself
                assert col["split_id"] == col["activity_id"]
        else:
            assert col["variation"] == "" and col["split_activity_name"] == ""
        engaged = e.type in (m.OPENED, m.CLICKED)
        assert (col["device"], col["location"]) == ((e.device, person.country) if engaged else ("", ""))
        if e.type == m.CLICKED:
            link = msg.links[e.link]
            assert (int(col["link_id"]), col["link_url"], col["link_title"]) == (
                link.id,
                link.url,
                link.title,
            )
        else:
            assert col["link_id"] == col["link_url"] == col["link_title"] == ""
        assert col["bounce_code"] == (str(e.bounce_code) if e.type == m.BOUNCED else "")
        topic = world.lists_by_id[e.list_id].topic if e.type == m.UNSUBSCRIBED else ""
        assert col["unsubscribe_topic"] == topic
        assert col["abuse_section"] == (
            cat.sections[msg.section].discriminator if e.type == m.COMPLAINED else ""
        )
        assert row[20] == person.gender
        assert row[21] == ("true" if person.vip else "false")
        assert row[22] == ("TAG" if world.has_tag(tag["id"], e.recipient) else "")
    assert seen_types == set(TYPES.values())
    assert split_rows, "the window holds a split test"


def test_bounce_codes_are_in_the_documented_ranges(apsis):
    """Seed 1: bounce_code 1000-5999 ranges or 9999."""
    _, status = completed(apsis)
    rows = apsis.download_csv(status["file_download_url"])
    codes = {int(r[17]) for r in rows[1:] if r[8] == "BOUNCED"}
    assert codes and all(1000 <= c < 6000 or c == 9999 for c in codes)


def test_repeated_correlation_ids_and_event_time_quirks(apsis):
    """Seed 1: correlation_id may repeat after a retry; event_time may be 0 before 2020 or in 1970."""
    body = {"start_at": "2019-12-31T00:00:00Z", "end_at": "2020-01-01T12:00:00Z"}
    status = apsis.wait_for_report(request_report(apsis, body))
    rows = apsis.download_csv(status["file_download_url"])[1:]
    ids = [r[9] for r in rows]
    assert len(ids) > len(set(ids)), "retried events repeat their correlation_id"
    before_2020 = [int(r[10]) for r in rows if int(r[11]) < 1_577_836_800_000]
    assert before_2020.count(0) > len(before_2020) // 2
    assert all(int(r[10]) == 0 or int(r[10]) < 86_400_000 or int(r[10]) > 1_500_000_000_000 for r in rows)


def test_only_events_inside_the_window_and_the_segment(apsis):
    """Seed 1: events since start_at to end_at; segment_filter targets one segment's profiles."""
    world = apsis.core.world
    segment = apsis.get("/audience/segments").json["items"][0]
    seg = next(s for s in world.catalog.segments if s.discriminator == segment["discriminator"])
    _, status = completed(apsis, segment_filter={"segment_discriminator": seg.discriminator})
    rows = apsis.download_csv(status["file_download_url"])[1:]
    assert rows
    emails = {world.recipient(i).email: i for i in range(world.size)}
    for r in rows:
        assert ms(START) <= int(r[11]) < ms(END)
        assert world.in_segment(seg.id, emails[r[6]])


def test_sections_filter_keeps_only_those_activities(apsis):
    world = apsis.core.world
    first = world.catalog.sections[0]
    _, status = completed(apsis, sections=[first.discriminator])
    rows = apsis.download_csv(status["file_download_url"])[1:]
    assert rows and all(world.message(int(r[0])).section == 0 for r in rows)


def test_the_same_request_gives_byte_identical_files(apsis):
    _, one = completed(apsis)
    _, two = completed(apsis)
    a = apsis.client.get(local(one["file_download_url"])).data
    b = apsis.client.get(local(two["file_download_url"])).data
    assert a == b


def test_header_auth_moves_credentials_to_x_apsis_auth(apsis):
    """Notes 1b: header_auth=true -> the URL has no auth data; the status response carries x-apsis-auth
    which the download must send."""
    report_id, _ = completed(apsis)
    r = apsis.get(f"/emails/reports/{report_id}?header_auth=true")
    url = r.json["file_download_url"]
    assert "?" not in url and "signature" not in url
    token = r.headers["x-apsis-auth"]
    assert apsis.client.get(local(url)).status_code == 403
    assert apsis.client.get(local(url), headers={"x-apsis-auth": "1.bad"}).status_code == 403
    assert apsis.download_csv(url, headers={"x-apsis-auth": token})[0][:2] == ["activity_id", "split_id"]


def test_download_url_expires_and_a_fresh_status_call_gives_a_new_one(apsis):
    """Notes 1b: the URL is short-lived; call the status endpoint again for a fresh one."""
    report_id, status = completed(apsis)
    apsis.core.clock.advance(601)
    r = apsis.client.get(local(status["file_download_url"]))
    assert r.status_code == 403 and "expired" in r.json["detail"]
    fresh = apsis.get(f"/emails/reports/{report_id}").json
    assert fresh["file_download_url"] != status["file_download_url"]
    assert apsis.client.get(local(fresh["file_download_url"])).status_code == 200


def test_short_download_urls_scenario(apsis):
    apsis.core.faults.activate(["apsis-short-download-urls"])
    _, status = completed(apsis)
    apsis.core.clock.advance(31)
    assert apsis.client.get(local(status["file_download_url"])).status_code == 403


def test_export_is_gone_after_file_expires_at(apsis):
    report_id, status = completed(apsis)
    expires = datetime.fromisoformat(status["file_expires_at"]).timestamp()
    apsis.core.clock.advance(expires - apsis.core.clock.now() + 1)
    apsis.refresh()
    assert apsis.get(f"/emails/reports/{report_id}").status_code == 410
    assert apsis.client.get(local(status["file_download_url"])).status_code == 410


def test_unknown_report_gets_404_problem(apsis):
    r = apsis.get("/emails/reports/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.content_type == "application/problem+json"


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"start_at": "2025-12-01T00:00:00Z", "end_at": "2026-03-01T00:00:01Z"},
            "end_at",
        ),  # over three months
        ({"start_at": "2025-11-01T00:00:00Z"}, "end_at"),  # end_at defaults to now: over three months
        ({"start_at": "2026-03-02T00:00:00Z", "end_at": "2026-03-01T00:00:00Z"}, "end_at"),
        ({"start_at": "yesterday"}, "start_at"),
        ({"end_at": "2026-03-01T00:00:00Z"}, "start_at"),
        ({"start_at": "2026-03-01T00:00:00Z", "sections": ["usercreated.sections.nope"]}, "sections[0]"),
        (
            {"start_at": "2026-03-01T00:00:00Z", "segment_filter": {"segment_discriminator": "x"}},
            "segment_filter",
        ),
        (
            {
                "start_at": "2026-03-01T00:00:00Z",
                "additional_attribute_mappings": [{"attribute_discriminator": "x"}],
            },
            "additional_attribute_mappings[0]",
        ),
    ],
)
def test_invalid_requests_get_400_naming_the_field(apsis, body, field):
    """Seed 1: the three-month window is validated when requesting; KB-ERRORS: 400 for validation."""
    r = apsis.post("/emails/reports", body)
    assert r.status_code == 400 and r.content_type == "application/problem+json"
    assert r.json["detail"].startswith(field)


def test_exactly_three_months_is_accepted(apsis):
    assert (
        apsis.post(
            "/emails/reports", {"start_at": "2025-12-01T00:00:00Z", "end_at": "2026-03-01T00:00:00Z"}
        ).status_code
        == 202
    )


def test_more_than_75_attributes_or_25_tags_get_400(apsis):
    """Seed 1: "The export file can include up to 75 attributes and 25 tags. Validated when requesting"."""
    cat = apsis.core.world.catalog
    attrs = [
        {"attribute_discriminator": cat.attributes[i % len(cat.attributes)].discriminator} for i in range(76)
    ]
    r = apsis.post(
        "/emails/reports",
        {"start_at": iso(START), "end_at": iso(END), "additional_attribute_mappings": attrs},
    )
    assert (
        r.status_code == 400
        and "additional_attribute_mappings" in r.json["detail"]
        and "75" in r.json["detail"]
    )
    tags = [{"tag_discriminator": cat.tags[i % len(cat.tags)].discriminator} for i in range(26)]
    r = apsis.post(
        "/emails/reports", {"start_at": iso(START), "end_at": iso(END), "additional_tag_mappings": tags}
    )
    assert r.status_code == 400 and "additional_tag_mappings" in r.json["detail"] and "25" in r.json["detail"]
    assert (
        apsis.post(
            "/emails/reports",
            {
                "start_at": iso(START),
                "end_at": iso(END),
                "additional_attribute_mappings": attrs[:75],
                "additional_tag_mappings": tags[:25],
            },
        ).status_code
        == 202
    )


def test_over_25_sections_on_the_account_gets_413(tmp_path):
    """Seed 1: "If there are over 25 sections on the account then HTTP 413 Request Entity Too Large"."""
    assert (
        make_apsis(tmp_path / "a", apsis_section_count=25)
        .post("/emails/reports", {"start_at": iso(START), "end_at": iso(END)})
        .status_code
        == 202
    )
    r = make_apsis(tmp_path / "b", apsis_section_count=26).post("/emails/reports", {"start_at": iso(START)})
    assert r.status_code == 413 and r.content_type == "application/problem+json"


def test_pending_export_count_limit_gets_429(tmp_path):
    """Seed 1: "Pending export count limit. If reached, HTTP 429 Too Many Requests is returned"."""
    apsis = make_apsis(tmp_path, apsis_pending_export_limit=2)
    body = {"start_at": iso(START), "end_at": iso(END)}
    assert apsis.post("/emails/reports", body).status_code == 202
    assert apsis.post("/emails/reports", body).status_code == 202
    r = apsis.post("/emails/reports", body)
    assert r.status_code == 429 and r.content_type == "application/problem+json"
    apsis.core.clock.advance(3600)  # the pending ones complete
    assert apsis.post("/emails/reports", body).status_code == 202


def test_too_large_data_set_gives_status_error_and_a_smaller_one_succeeds(tmp_path):
    """Seed 1: a very large data set may give "a status of error"; retry aiming at a smaller subset."""
    apsis = make_apsis(tmp_path, apsis_export_size_limit=100_000)
    big = apsis.wait_for_report(
        request_report(apsis, {"start_at": "2026-01-01T00:00:00Z", "end_at": iso(END)})
    )
    assert big["status"] == "error" and "smaller" in big["error"] and "file_download_url" not in big
    small = apsis.wait_for_report(
        request_report(apsis, {"start_at": iso(START), "end_at": "2026-03-06T06:00:00Z"})
    )
    assert small["status"] == "completed"


def test_export_fails_scenario_gives_status_error(apsis):
    apsis.core.faults.activate(["export-fails"])
    assert apsis.wait_for_report(request_report(apsis))["status"] == "error"


def test_rate_limited_scenario_allows_one_event_export_per_minute(apsis):
    """DEV-LIMITS: "Event exports" 1 request per minute (scenario rate-limited)."""
    apsis.core.faults.activate(["rate-limited"])
    assert apsis.post("/emails/reports", {"start_at": iso(START), "end_at": iso(END)}).status_code == 202
    r = apsis.post("/emails/reports", {"start_at": iso(START), "end_at": iso(END)})
    assert r.status_code == 429 and r.content_type == "application/problem+json"
