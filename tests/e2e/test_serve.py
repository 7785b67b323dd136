"""`serve` as a user starts it: the default server (granian) on loopback, and what every server must do:
keep-alive, the `api_key` header, shared state across workers, the drop and truncate faults, a clear error
for a busy port before any URL is printed, no shared gunicorn control socket, JSON for requests the HTTP
layer refuses."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys

import pytest

from emulator.settings import DEFAULT_EXPERTSENDER_API_KEY, DEFAULT_NETCORE_API_KEY

from .server import free_port, get_json, running_server

pytestmark = pytest.mark.gunicorn  # starts real server processes


def _connection(base: str) -> http.client.HTTPConnection:
    host, port = base.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def test_default_server_keeps_connections_alive_and_passes_the_api_key_header(tmp_path):
    """Netcore Email API: Events API authenticates with an `api_key` header (an underscore, which some
    servers drop); a client reusing its connection gets every answer on that one connection."""
    with running_server(tmp_path / "s") as base:
        conn = _connection(base)
        conn.request("GET", "/_emulator/health")
        health = conn.getresponse()
        assert json.loads(health.read())["status"] == "ok" and health.getheader("Connection") != "close"
        first_socket = conn.sock
        for _ in range(3):
            conn.request("GET", "/netcore/v5.1/events?startdate=2000-01-01&enddate=2000-01-01",
                         headers={"api_key": DEFAULT_NETCORE_API_KEY})
            answer = conn.getresponse()
            body = json.loads(answer.read())
            # the key was seen (a missing key is 401); the old window is refused on its own merits
            assert answer.status == 400 and "startdate" in json.dumps(body)
        assert conn.sock is first_socket  # one connection throughout
        conn.close()
        journal = get_json(base + "/_emulator/journal?vendor=netcore")["items"]
        assert [e["status"] for e in journal] == [400, 400, 400]
        assert DEFAULT_NETCORE_API_KEY not in json.dumps(journal)


def test_state_is_shared_across_the_default_servers_workers(tmp_path):
    """Every worker answers with the state another worker wrote (each caches it, checked per request)."""
    with running_server(tmp_path / "s", "--workers", "2") as base:
        seen: dict[int, list[str]] = {}
        for i in range(40):  # new connections: each worker takes some of them
            conn = _connection(base)
            stamp = f"2031-05-06T07:{i % 60:02d}:00Z"
            conn.request("POST", "/_emulator/clock", body=json.dumps({"set": stamp}),
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            other = _connection(base)
            other.request("GET", "/_emulator/health")
            health = json.loads(other.getresponse().read())
            seen.setdefault(health["worker_pid"], []).append(health["now"])
            assert health["now"].startswith(stamp[:16]), (i, health)
            conn.close()
            other.close()
        assert seen, "answers came"


def test_drop_and_truncate_faults_under_the_default_server(tmp_path):
    """A drop rule: no usable answer; a truncate rule: the first N bytes, then the connection closes
    (the client sees a body shorter than announced)."""
    rules = [{"name": "drop", "match": {"vendor": "apsis"}, "action": {"drop": True}},
             {"name": "cut", "match": {"vendor": "expertsender", "path": "/v2/Api/Lists"},
              "action": {"truncate_after_bytes": 40}}]
    with running_server(tmp_path / "s") as base:
        get_json(base + "/_emulator/scenario", method="PUT", body={"rules": rules})
        conn = _connection(base)
        conn.request("GET", "/apsis/audience/sections")
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.getresponse().read()
        conn.close()
        conn = _connection(base)
        conn.request("GET", f"/expertsender/v2/Api/Lists?apiKey={DEFAULT_EXPERTSENDER_API_KEY}")
        answer = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead) as info:
            answer.read()
        assert len(info.value.partial) == 40 and info.value.partial.startswith(b"<")
        conn.close()
        assert get_json(base + "/_emulator/health")["status"] == "ok"  # the server itself is fine
        faults = {e["path"]: e["fault"] for e in get_json(base + "/_emulator/journal")["items"]}
        assert faults == {"/audience/sections": "api:drop", "/v2/Api/Lists": "api:cut"}


def _serve(*args: str, home: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator.cli", "serve", *args], check=False, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "HOME": home, "XDG_RUNTIME_DIR": ""})


def test_a_busy_port_is_one_clear_line_before_any_url_is_printed(tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = _serve("--port", str(port), "--state-dir", str(tmp_path / "s"), home=str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""  # no banner, no base URLs
    assert result.stderr.strip().splitlines() == [
        f"email-events-emulator: cannot listen on 127.0.0.1:{port}: Address already in use"]


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_no_gunicorn_control_socket_in_the_home_directory(tmp_path, server):
    """gunicorn's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl), shared by every gunicorn
    on the machine, and unwritable in a container (Permission denied: '/app/.gunicorn'): serve makes none."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}
    with running_server(tmp_path / "s", "--server", server, "--log-level", "info", env=env) as base:
        assert get_json(base + "/_emulator/health")["status"] == "ok"
    assert list(home.iterdir()) == []


def test_gunicorn_answers_an_oversized_header_as_json(tmp_path):
    """Refused before the app (a header line over 16 kB): problem+json, not gunicorn's HTML page."""
    with running_server(tmp_path / "s", "--server", "gunicorn") as base:
        conn = _connection(base)
        conn.request("GET", "/netcore/v5.1/events", headers={"X-Long": "a" * 20_000})
        answer = conn.getresponse()
        body = answer.read()
        assert answer.status in (400, 431) and answer.getheader("Content-Type") == "application/problem+json"
        assert json.loads(body)["status"] == answer.status


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_the_largest_valid_requests_pass_the_http_layer(tmp_path, server):
    """A long query (12,000 characters, longer than gunicorn's largest request-line limit) and a 12 kB header
    reach the app under either server."""
    with running_server(tmp_path / "s", "--server", server) as base:
        conn = _connection(base)
        query = "apiKey=" + DEFAULT_EXPERTSENDER_API_KEY + "&x=" + "a" * 12_000
        conn.request("GET", "/expertsender/v2/Api/Lists?" + query,
                     headers={"X-Long": "b" * 12_000})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200
