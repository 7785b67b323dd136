"""Sessions on a real server with two worker processes (the default server, granian, and gunicorn): eight
clients at once, each in its own session, never see each other's clock, scenario, jobs or journal, whichever
worker answers (a session's state is in the shared store). docs/sessions.md."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET
from tests.sessions_flow import run_sessions_at_once

from .server import get_json, running_server


def over_http(base: str):
    def http(method, path, json=None, headers=None):
        data = None if json is None else _dumps(json)
        request = urllib.request.Request(base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()
    return http


def _dumps(value) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize("server", [
    pytest.param((), id="granian"),
    pytest.param(("--server", "gunicorn"), id="gunicorn", marks=pytest.mark.gunicorn),
])
def test_eight_clients_in_eight_sessions_on_two_workers(tmp_path, server):
    with running_server(tmp_path / "state", *server, "--workers", "2", "--scale", "0.2") as base:
        results = run_sessions_at_once(over_http(base), "client")
        assert get_json(base + "/_emulator/jobs")["count"] == 0
        assert get_json(base + "/_emulator/journal")["count"] == 0
        listed = {s["name"]: s["jobs"] for s in get_json(base + "/_emulator/sessions")["items"]}
        assert listed == {"default": 0, **{f"client-{i}": 1 for i in range(8)}}
        assert len(set().union(*(r["workers"] for r in results))) == 2  # both workers served the sessions


def test_a_session_of_another_seed_streams_that_seeds_export(tmp_path):
    """Sessions of the server's seed share its world (byte-identical files); a session created with another seed
    gets that seed's world, also in a file streamed by the served worker."""
    creds = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
             "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
    window = {"start_at": "2026-03-08T00:00:00Z", "end_at": "2026-03-08T06:00:00Z"}
    with running_server(tmp_path / "state", "--workers", "2") as base:
        http = over_http(base)
        get_json(base + "/_emulator/sessions", method="POST", body={"name": "seven", "seed": 7})
        files = {}
        for prefix in ("", "/sessions/seven", "/sessions/other"):
            get_json(base + prefix + "/_emulator/clock", method="POST", body={"set": "2026-03-10T12:00:00Z"})
            token = get_json(base + prefix + "/apsis/oauth/token", method="POST", body=creds)["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            report = get_json(base + prefix + "/apsis/emails/reports", method="POST", headers=auth, body=window)
            get_json(base + prefix + "/_emulator/clock", method="POST", body={"advance": 3600})
            status = get_json(f"{base}{prefix}/apsis/emails/reports/{report['report_id']}", headers=auth)
            url = urlsplit(status["file_download_url"])
            code, _, files[prefix] = http("GET", f"{url.path}?{url.query}")
            assert code == 200
        assert files[""] == files["/sessions/other"] != files["/sessions/seven"]
