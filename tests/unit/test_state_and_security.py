"""State that stays right and a control API closed to other sites (issue 21).

- the clock: concurrent advances all count (one atomic statement), a NaN written by an older version is
  ignored;
- job ids never repeat after a reset, so an old signed Netcore download URL cannot reach a newer job's file;
- a restart on the same state directory keeps jobs, clock and the scenario set at run time;
- the control API and dashboard refuse a foreign Origin and, without a token, a non-loopback Host (DNS
  rebinding); its base URL answers an index.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from emulator.app import create_app
from emulator.clock import Clock
from emulator.settings import DEFAULT_NETCORE_API_KEY, Settings
from emulator.store import Store

NETCORE_V6 = {"Authorization": f"Bearer {DEFAULT_NETCORE_API_KEY}"}


def test_concurrent_clock_advances_all_count(tmp_path):
    """Issue 21: read-then-write lost 2.6-4.1% of advances from 64 threads. Each advance is now one SQL
    statement: 16 threads x 40 advances of 1 s move the clock by exactly 640 s."""
    path = str(tmp_path / "emulator.db")
    Store(path)
    fixed = lambda: 1_800_000_000.0  # real time frozen, so offsets compare exactly
    start = Clock(Store(path), fixed).offset()

    def advance() -> None:
        clock = Clock(Store(path), fixed)  # each thread its own store, as each worker has
        for _ in range(40):
            clock.advance(1)

    threads = [threading.Thread(target=advance) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Clock(Store(path), fixed).offset() - start == 640


def test_an_advance_that_would_leave_the_range_changes_nothing(core):
    core.clock.set(datetime(9998, 12, 31, tzinfo=UTC))
    before = core.clock.offset()
    with pytest.raises(ValueError):
        core.clock.advance(86_400 * 2)
    assert core.clock.offset() == before


def test_a_stored_nan_offset_is_ignored(client, core):
    """A state directory written before the range check may hold NaN: health and vendors keep answering."""
    core.store.put("clock_offset", float("nan"))
    assert client.get("/_emulator/health").status_code == 200
    assert client.get("/_emulator/clock").get_json()["offset_seconds"] == 0


def _ready_download(client, core) -> str:
    core.clock.set(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    job = client.post("/netcore/v6/logs/download", json={"start_date": "2026-03-14", "end_date": "2026-03-14"},
                      headers=NETCORE_V6).get_json()["data"]
    core.clock.advance(3600)
    status = client.get(urlsplit(job["status_url"]).path, headers=NETCORE_V6).get_json()["data"]
    parts = urlsplit(status["download_url"])
    return f"{parts.path}?{parts.query}"


def test_an_old_signed_download_url_does_not_reach_a_job_made_after_reset(client, core):
    """Issue 21: ids restarted at 1 after POST /_emulator/reset, so an old signed URL served the new job's
    file with 200. Ids never repeat within a state directory: the old URL finds no job (404)."""
    old = _ready_download(client, core)
    assert client.get(old).status_code == 200
    assert client.post("/_emulator/reset").status_code == 200
    new = _ready_download(client, core)
    assert new != old
    response = client.get(old)
    assert response.status_code == 404 and response.get_json()["status"] == "error"
    assert client.get(new).status_code == 200


def test_a_restart_on_the_same_state_dir_keeps_jobs_clock_and_runtime_scenario(tmp_path):
    """What a restart keeps: everything in the state directory (jobs, clock, journal, counters) and the
    scenario set at run time through PUT /_emulator/scenario, as long as the server starts with the same
    scenarios as before; starting with other scenarios replaces it."""
    settings = Settings(state_dir=str(tmp_path / "state"))
    first = create_app(settings).test_client()
    first.post("/_emulator/clock", json={"set": "2026-03-15T12:00:00Z"})
    assert first.put("/_emulator/scenario", json={"names": ["rate-limited"]}).status_code == 200
    first.post("/netcore/v6/logs/download", json={"start_date": "2026-03-14"}, headers=NETCORE_V6)
    jobs = [(j["id"], j["request"], j["created_at"]) for j in first.get("/_emulator/jobs").get_json()["items"]]

    again = create_app(settings).test_client()  # a restart: the same flags, the same state dir
    assert again.get("/_emulator/scenario").get_json()["names"] == ["rate-limited"]
    kept = [(j["id"], j["request"], j["created_at"]) for j in again.get("/_emulator/jobs").get_json()["items"]]
    assert kept == jobs and len(jobs) == 1
    assert again.get("/_emulator/clock").get_json()["now"].startswith("2026-03-15T12:00")

    other = create_app(settings.replace(scenarios=("flaky",))).test_client()
    assert other.get("/_emulator/scenario").get_json()["names"] == ["flaky"]
    assert other.get("/_emulator/jobs").get_json()["count"] == 1


@pytest.mark.parametrize("method, path", [("POST", "/_emulator/reset"), ("GET", "/_emulator/journal"),
                                          ("PUT", "/_emulator/scenario"), ("GET", "/_emulator/ui")])
def test_a_foreign_origin_is_refused(client, core, method, path):
    """A page on another site (Origin: http://evil.example) cannot reset a developer's sandbox: 403, and
    nothing changed; the dashboard's own requests (same origin) pass."""
    core.clock.advance(60)
    response = client.open(path, method=method, json={"names": ["flaky"]} if method == "PUT" else None,
                           headers={"Origin": "http://evil.example"})
    assert response.status_code == 403 and "evil.example" in response.get_json()["error"]
    assert core.clock.offset() >= 60 and core.faults.active()["names"] == ["default"]
    same = client.open(path, method=method, json={"names": ["default"]} if method == "PUT" else None,
                       headers={"Origin": "http://localhost"})
    assert same.status_code == 200


@pytest.mark.parametrize("host, status", [
    ("evil.example", 403), ("evil.example:8080", 403), ("127.0.0.1.nip.io", 403),
    ("127.0.0.1:8080", 200), ("localhost:8080", 200), ("[::1]:8080", 200), ("127.1.2.3", 200),
    ("app.localhost", 200),
])
def test_on_loopback_a_host_that_is_not_loopback_is_refused(client, host, status):
    """DNS rebinding: a page whose name now resolves to 127.0.0.1 sends its own name as Host."""
    response = client.post("/_emulator/reset", headers={"Host": host})
    assert response.status_code == status, response.get_data()


def test_the_token_opens_the_control_api_to_any_host(tmp_path):
    """Containers: beyond loopback, or on loopback under another name, the token is the way in."""
    app = create_app(Settings(state_dir=str(tmp_path / "s"), control_token="s3cret"))
    c = app.test_client()
    assert c.post("/_emulator/reset", headers={"Host": "emulator:8080"}).status_code == 403
    assert c.post("/_emulator/reset", headers={"Host": "emulator:8080", "X-Emulator-Token": "s3cret"}
                  ).status_code == 200
    beyond = create_app(Settings(state_dir=str(tmp_path / "b"), host="0.0.0.0", control_token="s3cret"))
    c = beyond.test_client()
    assert c.post("/_emulator/reset", headers={"Host": "emulator:8080"}).status_code == 401
    assert c.post("/_emulator/reset", headers={"Host": "emulator:8080", "X-Emulator-Token": "s3cret"}
                  ).status_code == 200
    assert c.get("/_emulator/health", headers={"Host": "emulator:8080"}).status_code == 200


def test_vendor_apis_answer_any_host(client):
    """Only the control API is closed: clients reach the vendor APIs under any name (a container's)."""
    response = client.get("/netcore/v6/stats", query_string={"startdate": "2026-03-01"},
                          headers={**NETCORE_V6, "Host": "emulator:8080", "Origin": "http://evil.example"})
    assert response.status_code != 403


def test_the_control_base_url_answers_an_index_of_the_control_api(app, client):
    """The control base URL printed at start (http://host:port/_emulator/) answered 404; it lists every
    operation, each at a URL this server routes."""
    for path in ("/_emulator/", "/_emulator"):
        response = client.get(path)
        assert response.status_code == 200 and response.content_type == "application/json"
    operations = client.get("/_emulator/").get_json()["operations"]
    routes = {r.rule.rstrip("/") or "/" for r in app.url_map.iter_rules()}
    assert {("POST", "/_emulator/reset"), ("POST", "/_emulator/clock"), ("GET", "/_emulator/journal")} <= {
        (o["method"], o["path"]) for o in operations}
    for op in operations:
        assert op["url"] == "http://localhost" + op["path"]
        assert op["path"].rstrip("/").replace("{name}", "<name>") in routes
