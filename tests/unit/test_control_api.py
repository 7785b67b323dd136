"""The control API under /_emulator/: health, clock, reset, scenario, journal, jobs, access rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator.app import create_app
from emulator.settings import Settings


def test_health_reports_version_seed_and_uptime(client):
    body = client.get("/_emulator/health").get_json()
    assert body["status"] == "ok" and body["seed"] == 42 and body["scenario"] == ["default"]
    assert body["uptime_seconds"] >= 0 and body["version"]


def test_clock_advance_and_set(client, core):
    before = core.clock.now()
    body = client.post("/_emulator/clock", json={"advance": 86_400}).get_json()
    assert body["offset_seconds"] == pytest.approx(86_400, abs=1)
    assert core.clock.now() - before == pytest.approx(86_400, abs=5)
    body = client.post("/_emulator/clock", json={"set": "2030-01-02T03:04:05Z"}).get_json()
    assert body["now"].startswith("2030-01-02T03:04")
    assert abs(core.clock.now() - datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()) < 5


@pytest.mark.parametrize("body", [{"advance": -5}, {"advance": "soon"}, {"set": "yesterday"},
                                  {"set": "2030-01-02T03:04:05"}, {}, {"advance": 1, "set": "2030-01-01T00:00:00Z"}])
def test_clock_rejects_bad_changes_with_400(client, body):
    response = client.post("/_emulator/clock", json=body)
    assert response.status_code == 400
    assert response.content_type == "application/json" and "clock" in response.get_json()["error"]


def test_reset_drops_jobs_journal_counters_and_clock(client, core):
    core.clock.advance(3600)
    core.exports.create("apsis", "email-events", {"a": 1}, estimated_events=10, ttl=60)
    client.get("/apsis/anything")
    assert client.post("/_emulator/reset").status_code == 200
    assert core.clock.offset() == 0
    assert client.get("/_emulator/jobs").get_json()["count"] == 0
    assert client.get("/_emulator/journal").get_json()["count"] == 0


def test_scenario_switch_by_name_and_back(client):
    body = client.put("/_emulator/scenario", json={"name": "flaky"}).get_json()
    assert body["names"] == ["flaky"] and body["rules"]
    assert client.get("/_emulator/scenario").get_json()["names"] == ["flaky"]
    assert client.delete("/_emulator/scenario").get_json()["names"] == ["default"]


def test_unknown_scenario_gets_400_listing_the_known_ones(client):
    response = client.put("/_emulator/scenario", json={"name": "nope"})
    assert response.status_code == 400
    assert "rate-limited" in response.get_json()["known"]


def test_runtime_rules_apply_to_vendor_requests_in_the_vendor_error_format(client):
    rules = [{"name": "busy", "match": {"vendor": "apsis", "path": "/emails/*", "nth": 1},
              "action": {"status": 503, "message": "Connection to database timed out",
                         "headers": {"Retry-After": "7"}}}]
    assert client.put("/_emulator/scenario", json={"rules": rules}).status_code == 200
    first = client.get("/apsis/emails/reports/x")
    assert first.status_code == 503 and first.headers["Retry-After"] == "7"
    assert first.content_type == "application/problem+json"
    assert first.get_json() == {"title": "Service Unavailable", "status": 503,
                                "detail": "Connection to database timed out"}
    assert client.get("/apsis/emails/reports/x").status_code != 503  # nth=1: only the first call


def test_invalid_runtime_rule_names_the_rule_and_problem(client):
    response = client.put("/_emulator/scenario", json={"rules": [{"name": "x", "action": {"status": 200}}]})
    assert response.status_code == 400
    assert "status" in response.get_json()["error"]


def test_scenario_header_applies_to_one_request(client):
    forced = client.post("/apsis/emails/reports", headers={"X-Emulator-Scenario": "oversized-request"})
    assert forced.status_code == 413
    unknown = client.get("/netcore/v5.1/stats", headers={"X-Emulator-Scenario": "nope"})
    assert unknown.status_code == 400 and unknown.get_json()["status"] == "error"


def test_journal_records_requests_with_credentials_masked_and_filters(client):
    client.get("/expertsender/v2/Api/Activities?apiKey=supersecretkey&date=2026-01-01&type=Sends")
    client.get("/netcore/v5.1/stats", headers={"api_key": "another-secret-value"})
    items = client.get("/_emulator/journal?vendor=expertsender").get_json()["items"]
    assert len(items) == 1 and items[0]["path"] == "/v2/Api/Activities"
    assert "supersecretkey" not in items[0]["query"] and "type=Sends" in items[0]["query"]
    netcore = client.get("/_emulator/journal?vendor=netcore").get_json()["items"][0]
    assert "another-secret-value" not in str(netcore["headers"])
    status = netcore["status"]
    assert client.get(f"/_emulator/journal?status={status}&path=/v5.1/*").get_json()["count"] >= 1
    assert client.delete("/_emulator/journal").status_code == 200
    assert client.get("/_emulator/journal").get_json()["count"] == 0


def test_journal_is_bounded(tmp_path):
    app = create_app(Settings(state_dir=str(tmp_path), journal_limit=50))
    client = app.test_client()
    for _ in range(260):
        client.get("/apsis/missing")
    count = client.get("/_emulator/journal?limit=10000").get_json()["count"]
    assert 50 <= count < 150


def test_jobs_show_state_on_the_virtual_clock(client, core):
    job = core.exports.create("netcore", "logs", {"q": 1}, estimated_events=0, ttl=3600)
    items = client.get("/_emulator/jobs?vendor=netcore").get_json()["items"]
    assert [(j["id"], j["state"]) for j in items] == [(job.id, "pending")]
    core.clock.advance(core.settings.export_delay + 1)
    assert client.get("/_emulator/jobs?state=ready").get_json()["items"][0]["id"] == job.id
    core.clock.advance(3600)
    assert client.get("/_emulator/jobs").get_json()["items"][0]["state"] == "expired"


def test_control_api_beyond_loopback_requires_the_token(tmp_path):
    app = create_app(Settings(state_dir=str(tmp_path), host="0.0.0.0", control_token="s3cret"))
    client = app.test_client()
    assert client.get("/_emulator/health").status_code == 200  # health stays open for health checks
    assert client.get("/_emulator/clock").status_code == 401
    assert client.get("/_emulator/clock", headers={"X-Emulator-Token": "wrong"}).status_code == 401
    assert client.get("/_emulator/clock", headers={"X-Emulator-Token": "s3cret"}).status_code == 200
    assert client.get("/_emulator/clock", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_control_api_beyond_loopback_without_token_is_disabled(tmp_path):
    client = create_app(Settings(state_dir=str(tmp_path), host="0.0.0.0")).test_client()
    response = client.post("/_emulator/reset")
    assert response.status_code == 403 and "EMULATOR_CONTROL_TOKEN" in response.get_json()["error"]


def test_unknown_control_path_is_json_404(client):
    response = client.get("/_emulator/nothing")
    assert response.status_code == 404 and response.content_type == "application/json"
