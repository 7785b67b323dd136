"""A real gunicorn (`serve --server gunicorn`) with two workers on loopback: state is shared, faults reach the
socket. (tests/e2e/test_serve.py: the default server.)"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

import pytest

from emulator.clock import Clock
from emulator.exports import Exports
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET
from emulator.store import Store

from .server import get_json, holding_one_worker, running_server

pytestmark = pytest.mark.gunicorn
GUNICORN = ("--server", "gunicorn")


def health_by_worker(base: str) -> dict[int, dict]:
    """The health answer of each of the two workers (one held by a connection, the other answering)."""
    with holding_one_worker(base) as ask_held:
        other = get_json(base + "/_emulator/health")
        held = ask_held("/_emulator/health")
    return {other["worker_pid"]: other, held["worker_pid"]: held}


def test_state_created_through_one_worker_is_seen_by_another(tmp_path):
    state = tmp_path / "state"
    with running_server(state, *GUNICORN, "--workers", "2") as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": "2031-05-06T07:08:09Z"})
        get_json(base + "/_emulator/scenario", method="PUT", body={"name": "slow-exports"})
        # a job created by a third process in the shared store is listed by whichever worker answers
        store = Store(str(state / "emulator.db"))
        job = Exports(store, Clock(store), 42, 1.0).create("apsis", "email-events", {"x": 1},
                                                            estimated_events=5, ttl=60)
        workers = health_by_worker(base)
        assert len(workers) == 2, "both workers answered"
        for _ in range(20):
            assert get_json(base + "/_emulator/clock")["now"].startswith("2031-05-06T07:0")
            assert get_json(base + "/_emulator/scenario")["names"] == ["slow-exports"]
            assert [j["id"] for j in get_json(base + "/_emulator/jobs")["items"]] == [job.id]
        assert all(w["scenario"] == ["slow-exports"] for w in workers.values())


def test_job_created_through_one_worker_is_served_by_another(tmp_path):
    """An APSIS export created by the worker that took the POST is polled through the other worker."""
    with running_server(tmp_path / "s", *GUNICORN, "--workers", "2") as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": "2026-03-10T12:00:00Z"})
        api = base + "/apsis"
        creds = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
                 "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
        token = get_json(api + "/oauth/token", method="POST", body=creds)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        with holding_one_worker(base) as ask_held:  # the POST and the clock go to the other worker
            report = get_json(api + "/emails/reports", method="POST", headers=auth,
                              body={"start_at": "2026-03-09T00:00:00Z", "end_at": "2026-03-09T01:00:00Z"})
            get_json(base + "/_emulator/clock", method="POST", body={"advance": 120})
            status = ask_held(f"/apsis/emails/reports/{report['report_id']}", auth)
        assert status["status"] == "completed"
        creator = get_json(base + "/_emulator/journal?path=/emails/reports&method=POST")["items"][-1]["worker"]
        served = get_json(base + "/_emulator/journal?path=/emails/reports/*&method=GET&status=200")["items"]
        assert [e["worker"] for e in served] != [creator] and len(served) == 1


def test_fault_counters_are_shared_across_workers(tmp_path):
    rules = [{"name": "third", "match": {"vendor": "netcore", "nth": 3}, "action": {"status": 503}}]
    with running_server(tmp_path / "s", *GUNICORN, "--workers", "2") as base:
        get_json(base + "/_emulator/scenario", method="PUT", body={"rules": rules})
        codes = []
        for _ in range(6):
            try:
                urllib.request.urlopen(base + "/netcore/nothing", timeout=5)
            except urllib.error.HTTPError as err:
                codes.append(err.code)
        assert codes.count(503) == 1 and codes[2] == 503


def test_drop_rule_closes_the_connection_without_an_answer(tmp_path):
    rules = [{"name": "drop", "match": {"vendor": "apsis"}, "action": {"drop": True}}]
    with running_server(tmp_path / "s", *GUNICORN) as base:
        get_json(base + "/_emulator/scenario", method="PUT", body={"rules": rules})
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            urllib.request.urlopen(base + "/apsis/anything", timeout=5).read()
        assert get_json(base + "/_emulator/health")["status"] == "ok"  # the server itself is fine


def test_vendor_ports_serve_each_vendor_at_the_root(tmp_path):
    with running_server(tmp_path / "s", "--vendor-ports", ports=4) as base:
        port = int(base.rsplit(":", 1)[1])
        for offset, content_type in ((1, "application/problem+json"), (2, "text/xml; charset=utf-8"),
                                     (3, "application/json")):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{port + offset}/no-such-path", timeout=5)
            assert info.value.code == 404 and info.value.headers["Content-Type"] == content_type
