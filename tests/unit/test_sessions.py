"""Sessions (docs/sessions.md): a path prefix `/sessions/<name>` gives a client its own clock, scenario, export
jobs, limits and journal on one shared emulator, and the default session (no prefix) is untouched."""

from __future__ import annotations

import time

import pytest

from emulator.app import create_app
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET, Settings
from tests.sessions_flow import run_sessions_at_once

TOKEN_BODY = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
              "client_secret": DEFAULT_APSIS_CLIENT_SECRET}


def in_process(app):
    def http(method, path, json=None, headers=None):
        response = app.test_client().open(path, method=method, json=json, headers=headers or {})
        return response.status_code, dict(response.headers), response.get_data()
    return http


def test_eight_threads_in_eight_sessions_never_see_each_other(tmp_path):
    """Eight clients at once, each in its own session: APSIS export flow with clock moves, a Netcore scroll,
    an ExpertSender day and scenario switches; each sees only its own clock, scenario, jobs and journal."""
    app = create_app(Settings(state_dir=str(tmp_path / "state"), seed=42, scale=0.2))
    run_sessions_at_once(in_process(app), "worker")
    client = app.test_client()
    assert client.get("/_emulator/jobs").json["count"] == 0  # the default session saw none of it
    assert client.get("/_emulator/journal").json["count"] == 0
    assert client.get("/_emulator/clock").json["offset_seconds"] == 0
    listed = {s["name"]: s for s in client.get("/_emulator/sessions").json["items"]}
    assert set(listed) == {"default", *(f"worker-{i}" for i in range(8))}
    assert all(listed[f"worker-{i}"]["jobs"] == 1 for i in range(8))


def test_reset_resets_one_session(client):
    client.post("/sessions/a/_emulator/clock", json={"advance": 3600})
    client.post("/sessions/b/_emulator/clock", json={"advance": 7200})
    client.post("/sessions/a/_emulator/reset")
    assert client.get("/sessions/a/_emulator/clock").json["offset_seconds"] == 0
    assert client.get("/sessions/b/_emulator/clock").json["offset_seconds"] == pytest.approx(7200, abs=1)


def test_urls_the_emulator_returns_carry_the_session_prefix(client):
    """The index's URLs, an APSIS profile export's poll URL, a Netcore Download Logs status URL and its file URL
    keep the prefix, so a client that follows them stays in its session."""
    index = client.get("/sessions/s1/").json
    assert index["vendors"]["apsis"] == "http://localhost/sessions/s1/apsis"
    assert client.get("/sessions/s1/_emulator/").json["operations"][0]["url"].startswith(
        "http://localhost/sessions/s1/_emulator/")
    token = client.post("/sessions/s1/apsis/oauth/token", json=TOKEN_BODY).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/sessions/s1/apsis/audience/profiles/exports", headers=auth,
                    json={"attributes": ["com.apsis1.attributes.email"]})
    assert r.status_code == 202
    assert r.json["file_download_url"].startswith("http://localhost/sessions/s1/apsis/audience/profiles/exports/")
    v6 = {"Authorization": "Bearer emulator-netcore-api-key-5d41402abc4b2a76"}
    day = client.get("/sessions/s1/_emulator/clock").json["now"][:10]
    r = client.post("/sessions/s1/netcore/v6/logs/download", headers=v6, json={"start_date": day, "end_date": day})
    assert r.status_code == 202, r.json
    status_url = r.json["data"]["status_url"]
    assert status_url.startswith("http://localhost/sessions/s1/netcore/")
    client.post("/sessions/s1/_emulator/clock", json={"advance": 3600})
    status = client.get(status_url, headers=v6).json["data"]
    assert status["state"] == "ready", status
    assert status["download_url"].startswith("http://localhost/sessions/s1/netcore/")
    assert client.get(status["download_url"]).status_code == 200


def test_a_job_or_signed_url_of_one_session_is_not_found_in_another(client):
    token = client.post("/sessions/a/apsis/oauth/token", json=TOKEN_BODY).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    window = {"start_at": "2026-01-01T00:00:00Z", "end_at": "2026-01-01T01:00:00Z"}
    report = client.post("/sessions/a/apsis/emails/reports", json=window, headers=auth).json["report_id"]
    assert client.get(f"/sessions/a/apsis/emails/reports/{report}", headers=auth).status_code == 200
    assert client.get(f"/sessions/b/apsis/emails/reports/{report}", headers=auth).status_code == 404
    assert client.get(f"/apsis/emails/reports/{report}", headers=auth).status_code == 404


def test_apsis_limits_count_per_session(tmp_path):
    """APSIS One API: Limits (token requests a minute) and the pending-export limit are a session's own."""
    app = create_app(Settings(state_dir=str(tmp_path / "s"), apsis_token_limit=2, apsis_pending_export_limit=1))
    client = app.test_client()
    client.post("/_emulator/clock", json={"set": "2026-03-10T12:00:05Z"})
    statuses = [client.post("/sessions/a/apsis/oauth/token", json=TOKEN_BODY).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.post("/sessions/b/apsis/oauth/token", json=TOKEN_BODY).status_code == 200
    assert client.post("/apsis/oauth/token", json=TOKEN_BODY).status_code == 200
    window = {"start_at": "2026-01-01T00:00:00Z", "end_at": "2026-01-01T01:00:00Z"}
    for name in ("c", "d"):
        auth = {"Authorization": "Bearer " + client.post(f"/sessions/{name}/apsis/oauth/token",
                                                         json=TOKEN_BODY).json["access_token"]}
        assert client.post(f"/sessions/{name}/apsis/emails/reports", json=window, headers=auth).status_code == 202
        assert client.post(f"/sessions/{name}/apsis/emails/reports", json=window, headers=auth).status_code == 429


def test_bad_names_get_400_in_control_and_the_vendors_404(client):
    for name in ("-x", "a" * 65, "sp%20ace", "%C3%A9t%C3%A9"):
        r = client.get(f"/sessions/{name}/_emulator/clock")
        assert r.status_code == 400 and "session name" in r.json["error"]
        r = client.get(f"/sessions/{name}/apsis/emails/reports/x")
        assert r.status_code == 404 and r.content_type.startswith("application/problem+json")
        r = client.get(f"/sessions/{name}/expertsender/v2/Api/Time?apiKey=test_api_key1")
        assert r.status_code == 404 and b"<ErrorMessage>" in r.data
    assert client.post("/_emulator/sessions", json={"name": "bad name"}).status_code == 400
    assert client.get("/_emulator/sessions").json["count"] == 1  # none of them was created


def test_create_list_delete(client):
    r = client.post("/_emulator/sessions", json={"name": "mine", "seed": 7, "scenario": "rate-limited"})
    assert r.status_code == 201
    assert r.json["seed"] == 7 and r.json["scenario"] == ["rate-limited"]
    assert client.post("/_emulator/sessions", json={"name": "mine"}).status_code == 409
    assert client.post("/_emulator/sessions", json={"name": "x", "scenario": "nope"}).status_code == 400
    assert client.get("/sessions/mine/_emulator/scenario").json["names"] == ["rate-limited"]
    assert client.get("/_emulator/scenario").json["names"] == ["default"]
    assert client.get("/sessions/mine/_emulator/health").json["seed"] == 7
    assert client.delete("/_emulator/sessions/mine").status_code == 200
    assert client.get("/_emulator/sessions/mine").status_code == 404
    assert client.delete("/_emulator/sessions/default").status_code == 400
    # The same name used again: a fresh session with the server's defaults.
    assert client.get("/sessions/mine/_emulator/scenario").json["names"] == ["default"]


def test_a_session_with_another_seed_gets_that_seeds_world(client):
    client.post("/_emulator/sessions", json={"name": "seven", "seed": 7})
    query = "?apiKey=test_api_key1"
    own = client.get("/expertsender/Api/Lists" + query).data
    assert client.get("/sessions/other/expertsender/Api/Lists" + query).data == own
    assert client.get("/sessions/seven/expertsender/Api/Lists" + query).data != own


def test_the_session_prefix_works_on_a_vendor_port(tmp_path):
    settings = Settings(state_dir=str(tmp_path / "s"), vendor_ports=True, port=18080)
    app = create_app(settings)
    client = app.test_client()
    port = settings.vendor_port("apsis")
    r = client.post("/sessions/vp/oauth/token", json=TOKEN_BODY, base_url=f"http://127.0.0.1:{port}")
    assert r.status_code == 200
    journal = client.get("/sessions/vp/_emulator/journal").json["items"]
    assert [(e["vendor"], e["path"]) for e in journal] == [("apsis", "/oauth/token")]


def test_idle_sessions_end_and_the_number_is_bounded(tmp_path, monkeypatch):
    from emulator import sessions
    app = create_app(Settings(state_dir=str(tmp_path / "s"), max_sessions=2, session_idle_seconds=60))
    client = app.test_client()
    assert client.get("/sessions/a/_emulator/clock").status_code == 200
    assert client.get("/sessions/b/_emulator/clock").status_code == 200
    r = client.get("/sessions/c/_emulator/clock")
    assert r.status_code == 429 and "Too many sessions" in r.json["error"]
    r = client.get("/sessions/c/netcore/v5.1/events")
    assert r.status_code == 429 and "Too many sessions" in r.get_data(as_text=True)
    later = time.time() + 61
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    assert client.get("/sessions/c/_emulator/clock").status_code == 200  # a and b were idle: dropped
    names = [s["name"] for s in client.get("/_emulator/sessions").json["items"]]
    assert names == ["default", "c"]


def test_the_dashboard_of_a_session_shows_that_session(client):
    """/sessions/<name>/_emulator/ui polls that session's control API and lists the client URLs with its
    prefix; its script lists every session with a link to each one's view."""
    page = client.get("/sessions/abc/_emulator/ui").get_data(as_text=True)
    assert 'data-api="/sessions/abc/_emulator"' in page and 'data-session="abc"' in page
    assert ">http://localhost/sessions/abc/apsis<" in page and ">http://localhost/sessions/abc/netcore<" in page
    assert 'data-testid="sessions-table"' in page
    page = client.get("/_emulator/ui").get_data(as_text=True)
    assert 'data-api="/_emulator"' in page and 'data-session="default"' in page
    script = client.get("/_emulator/ui/dashboard.js").get_data(as_text=True)
    assert 'api("/sessions")' in script and "/sessions/${encodeURIComponent(name)}/_emulator/ui" in script


def test_a_state_directory_from_before_sessions_is_the_default_sessions(tmp_path):
    """The tables of an older state directory gain the session column; their rows are the default session's."""
    import sqlite3

    from emulator.store import Store

    state = tmp_path / "old"
    state.mkdir()
    with sqlite3.connect(state / "emulator.db") as conn:
        conn.executescript("""
            CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE jobs (id TEXT PRIMARY KEY, vendor TEXT NOT NULL, kind TEXT NOT NULL, request TEXT NOT NULL,
                created_at REAL NOT NULL, ready_at REAL NOT NULL, expires_at REAL NOT NULL, outcome TEXT NOT NULL,
                meta TEXT NOT NULL);
            INSERT INTO kv VALUES ('clock_offset', '3600.0');
            INSERT INTO counters VALUES ('apsis:tokens', 5);
            INSERT INTO jobs VALUES ('j1', 'apsis', 'email_events', '{}', 1, 2, 3, 'ok', '{}');
        """)
    with sqlite3.connect(state / "journal.db") as conn:
        conn.execute("CREATE TABLE journal (id INTEGER PRIMARY KEY, at REAL NOT NULL, vendor TEXT NOT NULL, "
                     "method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL, headers TEXT NOT NULL, "
                     "body_digest TEXT NOT NULL, body_size INTEGER NOT NULL, status INTEGER NOT NULL, fault TEXT, "
                     "worker INTEGER NOT NULL)")
        conn.execute("INSERT INTO journal VALUES (1, 1.0, 'apsis', 'GET', '/x', '', '{}', '', 0, 200, NULL, 1)")
    store = Store(str(state / "emulator.db"))
    assert store.get("clock_offset") == 3600.0 and store.incr("apsis:tokens") == 6
    assert [j["id"] for j in store.jobs()] == ["j1"] and store.job("j1")["vendor"] == "apsis"
    assert [e["path"] for e in store.journal({}, 10)] == ["/x"]
    app = create_app(Settings(state_dir=str(state)))
    assert app.test_client().get("/_emulator/clock").json["offset_seconds"] == pytest.approx(3600)
    assert app.test_client().get("/sessions/new/_emulator/clock").json["offset_seconds"] == 0


def test_a_session_is_current_only_during_its_request(client, core):
    """Code outside a request (a fixture moving the default clock) never acts on the session of the last request
    its thread served."""
    client.post("/sessions/zz/_emulator/clock", json={"advance": 50})
    core.clock.advance(7)
    assert client.get("/_emulator/clock").json["offset_seconds"] == pytest.approx(7, abs=1)
    assert client.get("/sessions/zz/_emulator/clock").json["offset_seconds"] == pytest.approx(50, abs=1)
