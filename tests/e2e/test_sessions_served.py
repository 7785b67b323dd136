"""Sessions on a real server with two worker processes (the default server, granian, and gunicorn): eight
clients at once, each in its own session, never see each other's clock, scenario, jobs or journal, whichever
worker answers (a session's state is in the shared store). docs/sessions.md."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

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
