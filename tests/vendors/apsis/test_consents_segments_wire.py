"""Consent lists and topics, single segment lookups, "UTC variant" date-times and per-request scenarios.

Sources: "APSIS One API: Request email event export" (the `unsubscribe_topic` column, date-times "in the UTC
variant"), the APSIS notes section 4 (consent-list, topic and segment paths of the official modules) and
KB-AUTH (the gateway's explicit deny).
"""

from __future__ import annotations

import re

import pytest

from .conftest import iso
from .test_email_export import END, completed

TARGET = re.compile(r"^usercreated\.targets\.[a-z0-9-]+-[a-z0-9]{10}$")
TOPIC = re.compile(r"^usercreated\.topics\.[a-z0-9-]+-[a-z0-9]{10}$")
DENY = {"message": "User is not authorized to access this resource with an explicit deny"}


def sections(apsis) -> list[str]:
    return [s["discriminator"] for s in apsis.get("/audience/sections").json["items"]]


def topics_by_section(apsis) -> dict[str, dict[str, str]]:
    """Section -> {topic discriminator: name}, through consent-lists and their topics (the older paths)."""
    out: dict[str, dict[str, str]] = {}
    for sd in sections(apsis):
        r = apsis.get(f"/audience/sections/{sd}/consent-lists")
        assert r.status_code == 200
        out[sd] = {}
        for cl in r.json["items"]:
            assert TARGET.match(cl["discriminator"]) and cl["name"]
            t = apsis.get(f"/audience/sections/{sd}/consent-lists/{cl['discriminator']}/topics")
            assert t.status_code == 200
            out[sd].update({item["discriminator"]: item["name"] for item in t.json["items"]})
    return out


def test_every_unsubscribe_topic_of_an_export_resolves_in_its_activitys_section(apsis):
    """The export's `unsubscribe_topic` is a "Discriminator of the unsubscribed topic": a client maps it to a
    name through its section's consent lists; every one found in a window's export resolves."""
    topics = topics_by_section(apsis)
    assert all(TOPIC.match(d) for names in topics.values() for d in names)
    _, status = completed(apsis)
    rows = apsis.download_csv(status["file_download_url"])
    header, body = rows[0], rows[1:]
    col = {name: header.index(name) for name in ("type", "unsubscribe_topic", "activity_id")}
    unsubscribes = [r for r in body if r[col["type"]] == "UNSUBSCRIBED"]
    assert unsubscribes
    sd_of = {}
    for r in unsubscribes:
        activity_id = r[col["activity_id"]]
        if activity_id not in sd_of:
            msg = apsis.core.world.message(int(activity_id))
            sd_of[activity_id] = apsis.core.world.catalog.sections[msg.section].discriminator
        assert r[col["unsubscribe_topic"]] in topics[sd_of[activity_id]]


def test_v2_topics_list_the_same_topics_with_their_consent_list(apsis):
    older = topics_by_section(apsis)
    for sd in sections(apsis):
        r = apsis.get(f"/v2/audience/sections/{sd}/topics")
        assert r.status_code == 200
        assert {t["discriminator"]: t["name"] for t in r.json["items"]} == older[sd]
        listed = apsis.get(f"/audience/sections/{sd}/consent-lists").json["items"]
        consent_lists = {cl["discriminator"] for cl in listed}
        assert {t["consent_list_discriminator"] for t in r.json["items"]} <= consent_lists


def test_unknown_consent_list_or_section_is_404_problem(apsis):
    sd = sections(apsis)[0]
    for path in (f"/audience/sections/{sd}/consent-lists/usercreated.targets.none-0000000000/topics",
                 "/audience/sections/usercreated.sections.none-0000000000/consent-lists",
                 "/v2/audience/sections/usercreated.sections.none-0000000000/topics"):
        r = apsis.get(path)
        assert r.status_code == 404 and r.content_type == "application/problem+json"


def test_single_segment_and_its_version(apsis):
    """GET /audience/segments/{segment_discriminator} and .../versions/{version_id} (notes, section 4)."""
    listed = apsis.get("/audience/segments").json["items"]
    for seg in listed:
        one = apsis.get(f"/audience/segments/{seg['discriminator']}")
        assert one.status_code == 200 and one.json == seg
        version = seg["versions"][0]["id"]
        v = apsis.get(f"/audience/segments/{seg['discriminator']}/versions/{version}")
        assert v.status_code == 200
        assert v.json == {"id": version, "segment_discriminator": seg["discriminator"], "name": seg["name"],
                          "deprecated_at": None}
    seg = listed[0]["discriminator"]
    assert apsis.get(f"/audience/segments/{seg}/versions/1").status_code == 404
    assert apsis.get(f"/audience/segments/{seg}/versions/abc").status_code == 400
    assert apsis.get("/audience/segments/usercreated.segments.none-0000000000").status_code == 404


@pytest.mark.parametrize("start", ["2026-03-01T00:00:00+01:00", "2026-03-01T00:00:00-00:00",
                                   "2026-03-01T05:30:00+05:30"])
def test_date_times_with_an_offset_other_than_utc_are_refused(apsis, start):
    """Date-times "formatted as ISO 8601 referred to as date-time in RFC 3339, section 5.6 in the UTC
    variant": another offset gets 400 naming the field and the rule."""
    for path in ("/emails/reports", "/audience/profiles/exports"):
        body = {"start_at": start, "end_at": iso(END), "attributes": ["com.apsis1.attributes.email"]}
        r = apsis.post(path, body)
        assert r.status_code == 400 and r.content_type == "application/problem+json"
        assert r.json["detail"] == f"start_at: must be an RFC 3339 date-time in UTC such as " \
                                   f"2026-01-31T00:00:00Z, got {start!r}"


@pytest.mark.parametrize("start", ["2026-03-01T00:00:00Z", "2026-03-01T00:00:00z",
                                   "2026-03-01T00:00:00+00:00"])
def test_utc_written_as_z_or_zero_offset_is_accepted(apsis, start):
    assert apsis.post("/emails/reports", {"start_at": start, "end_at": iso(END)}).status_code == 202


def test_explicit_deny_scenario_per_request_acts_as_set_globally(apsis):
    """X-Emulator-Scenario: apsis-explicit-deny on one request answers a bad token with the gateway's 403
    {"message": ...} (KB-AUTH), exactly as the scenario activated globally; other requests keep the 401."""
    bad = {"Authorization": "Bearer expired"}
    per_request = apsis.client.get("/apsis/audience/sections",
                                   headers={**bad, "X-Emulator-Scenario": "apsis-explicit-deny"})
    assert per_request.status_code == 403 and per_request.json == DENY
    assert apsis.client.get("/apsis/audience/sections", headers=bad).status_code == 401
    apsis.core.faults.activate(["apsis-explicit-deny"])
    globally = apsis.client.get("/apsis/audience/sections", headers=bad)
    assert (globally.status_code, globally.data, globally.content_type) == (
        per_request.status_code, per_request.data, per_request.content_type)
    statuses = [e["status"] for e in apsis.core.store.journal({"vendor": "apsis"}, 10)]
    assert statuses[-3:] == [403, 401, 403]

