"""Lookups a client needs to build and read an export (issue 4; APSIS notes, section 4): lists are
{"items": [...]}, ids and discriminators follow the documented patterns and agree with the export files."""

from __future__ import annotations

import re

DISCRIMINATOR = re.compile(
    r"^usercreated\.(sections|attributes|tags|segments|topics)\.[a-z0-9-]+-[a-z0-9]{10}$"
)


def test_sections_have_id_discriminator_and_name(apsis):
    r = apsis.get("/audience/sections")
    assert r.status_code == 200
    items = r.json["items"]
    assert [s["id"] for s in items] == [s.id for s in apsis.core.world.catalog.sections]
    for s in items:
        assert DISCRIMINATOR.match(s["discriminator"]) and s["name"]


def test_section_count_setting_adds_sections_to_the_account(tmp_path):
    from .conftest import make_apsis

    apsis = make_apsis(tmp_path, apsis_section_count=30)
    items = apsis.get("/audience/sections").json["items"]
    assert len(items) == 30 and len({s["discriminator"] for s in items}) == 30


def test_attributes_list_versions_with_deprecated_at(apsis):
    """Clients pick the version whose deprecated_at is null (notes: GH-MAGENTO getAttributeVersionIds)."""
    section = apsis.get("/audience/sections").json["items"][0]["discriminator"]
    items = apsis.get(f"/audience/sections/{section}/attributes").json["items"]
    by_disc = {a["discriminator"]: a for a in items}
    assert "com.apsis1.attributes.email" in by_disc
    redefined = [a for a in items if len(a["versions"]) > 1]
    assert redefined, "some attributes have an older, deprecated version"
    for a in redefined:
        assert a["versions"][0]["deprecated_at"] is not None and a["versions"][-1]["deprecated_at"] is None
    assert all(isinstance(v["id"], int) for a in items for v in a["versions"])


def test_tags_events_segments_keyspaces_channels(apsis):
    section = apsis.get("/audience/sections").json["items"][0]["discriminator"]
    tags = apsis.get(f"/audience/sections/{section}/tags").json["items"]
    assert all({"id", "discriminator", "name"} <= set(t) for t in tags)
    events = apsis.get(f"/audience/sections/{section}/events").json["items"]
    assert {e["discriminator"] for e in events} >= {
        "com.apsis1.events.email.opened",
        "com.apsis1.events.email.clicked",
    }
    assert all(e["versions"] and e["fields"] for e in events)
    segments = apsis.get("/audience/segments").json["items"]
    assert all(DISCRIMINATOR.match(s["discriminator"]) and s["versions"] for s in segments)
    keyspaces = apsis.get("/audience/keyspaces").json["items"]
    assert any(k["discriminator"].startswith("com.apsis1.keyspaces.") for k in keyspaces)
    channels = apsis.get("/audience/channels").json["items"]
    assert "com.apsis1.channels.email" in {c["discriminator"] for c in channels}


def test_unknown_section_gets_404_problem(apsis):
    for path in (
        "/audience/sections/usercreated.sections.nope/attributes",
        "/emails/sections/nope/activities",
    ):
        r = apsis.get(path)
        assert r.status_code == 404 and r.content_type == "application/problem+json"


def test_recent_activities_and_the_singular_activity_path(apsis):
    """Seed 1: GET /emails/sections/{sd}/activities and GET /emails/section/{sd}/activities/{activity_id}."""
    section = apsis.get("/audience/sections").json["items"][0]["discriminator"]
    items = apsis.get(f"/emails/sections/{section}/activities").json["items"]
    assert items, "the last 30 days hold activities"
    sent = [i["sent_at"] for i in items]
    assert sent == sorted(sent, reverse=True)
    first = items[0]
    one = apsis.get(f"/emails/section/{section}/activities/{first['id']}")
    assert one.status_code == 200 and one.json["id"] == first["id"] and one.json["links"]
    plural = apsis.get(f"/emails/sections/{section}/activities/{first['id']}")
    assert plural.json == one.json
    msg = apsis.core.world.message(first["id"])
    assert one.json["name"] == msg.name
    assert [s["id"] for s in one.json["split_activities"]] == [v.split_id for v in msg.variations]


def test_activity_of_another_section_or_bad_id(apsis):
    sections = [s["discriminator"] for s in apsis.get("/audience/sections").json["items"]]
    activity = apsis.get(f"/emails/sections/{sections[0]}/activities").json["items"][0]["id"]
    assert apsis.get(f"/emails/section/{sections[1]}/activities/{activity}").status_code == 404
    r = apsis.get(f"/emails/section/{sections[0]}/activities/abc")
    assert r.status_code == 400 and "activity_id" in r.json["detail"]


def test_unknown_path_and_wrong_method_answer_problem_json(apsis):
    r = apsis.get("/no/such/path")
    assert r.status_code == 404 and r.content_type == "application/problem+json" and r.json["status"] == 404
    r = apsis.client.delete("/apsis/emails/reports", headers=apsis.headers)
    assert (
        r.status_code == 405 and r.content_type == "application/problem+json" and "POST" in r.headers["Allow"]
    )


def test_body_that_is_not_json_gets_400_problem(apsis):
    r = apsis.client.post(
        "/apsis/emails/reports", data=b"{nope", headers={**apsis.headers, "Content-Type": "application/json"}
    )
    assert (
        r.status_code == 400 and r.content_type == "application/problem+json" and "JSON" in r.json["detail"]
    )


def test_body_over_100_kb_gets_413(apsis):
    """DEV-LIMITS: request bodies over 100 kB get 413 Request Entity Too Large."""
    body = {"start_at": "2026-03-01T00:00:00Z", "padding": "x" * (101 * 1024)}
    r = apsis.post("/emails/reports", body)
    assert r.status_code == 413 and r.content_type == "application/problem+json"
