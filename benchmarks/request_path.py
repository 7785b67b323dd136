"""`python -m benchmarks.request_path [N] [--profile]`: the emulator's own CPU per small request, in-process.

The same three APSIS requests as benchmarks.peers (export status, a lookup, a profile poll URL answering 404),
each N times (default 3,000) straight through the WSGI app with no server, as a server would call it, and a
bare Flask app's answer (benchmarks.bare_flask) the same way. Prints the best of 5 runs in process CPU time
per request; with --profile, one cProfile run per endpoint instead.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time

from emulator.app import create_app, tune_gc
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET, Settings

from . import bare_flask
from .serving import NOW

# As granian builds it: the process environment, the CGI and WSGI keys, then the headers.
ENVIRON = {**os.environ, "REQUEST_METHOD": "GET", "QUERY_STRING": "", "SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1",
           "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "bench",
           "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
           "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
           "HTTP_HOST": "127.0.0.1:8080", "HTTP_USER_AGENT": "wrk", "HTTP_ACCEPT": "*/*"}


def _caller(wsgi):
    def call(method: str, path: str, headers: dict | None = None, body: bytes = b"") -> tuple[str, bytes]:
        environ = {**ENVIRON, "REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body)}
        if body:
            environ.update(CONTENT_LENGTH=str(len(body)), CONTENT_TYPE="application/json")
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        answer: list[str] = []
        chunks = wsgi(environ, lambda status, _headers, _exc=None: answer.append(status))
        data = b"".join(chunks)
        chunks.close()
        return answer[0], data
    return call


def targets(call) -> tuple[dict[str, str], dict[str, str]]:
    """(endpoint -> path, the bearer header), with the export jobs they look at created."""
    def post(path: str, body: dict, headers: dict | None = None) -> dict:
        return json.loads(call("POST", path, headers, json.dumps(body).encode())[1])

    post("/_emulator/clock", {"set": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    creds = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
             "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
    token = post("/apsis/oauth/token", creds)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    window = {"start_at": "2026-05-30T00:00:00Z", "end_at": "2026-05-31T00:00:00Z"}
    report = post("/apsis/emails/reports", window, bearer)
    poll = post("/apsis/audience/profiles/exports", {"attributes": ["com.apsis1.attributes.email"]},
                bearer)["file_download_url"]
    return {"APSIS export status (pending)": f"/apsis/emails/reports/{report['report_id']}",
            "APSIS lookup (GET /audience/sections)": "/apsis/audience/sections",
            "APSIS profile poll URL (404)": poll.split("127.0.0.1:8080", 1)[1]}, bearer


def _best(call, path: str, headers: dict, n: int, profiler: cProfile.Profile | None = None) -> tuple[str, float]:
    for _ in range(200):
        status, _body = call("GET", path, headers)
    runs = []
    for _ in range(1 if profiler else 5):
        start = time.process_time()
        if profiler:
            profiler.enable()
        for _ in range(n):
            call("GET", path, headers)
        if profiler:
            profiler.disable()
        runs.append(time.process_time() - start)
    return status, min(runs) / n * 1e6


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 3000))
    profile = "--profile" in sys.argv
    settings = Settings(state_dir=tempfile.mkdtemp(prefix="bench-"), export_delay=1e9, apsis_token_limit=0)
    app = create_app(settings)
    call = _caller(app.wsgi_app)
    paths, bearer = targets(call)
    tune_gc()  # as `serve` does
    for endpoint, path in paths.items():
        profiler = cProfile.Profile() if profile else None
        status, us = _best(call, path, bearer, n, profiler)
        print(f"{endpoint:40s} {status:14s} {us:7.1f} us/request")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    if not profile:
        status, us = _best(_caller(bare_flask.app.wsgi_app), "/status", bearer, n)
        print(f"{'bare Flask app (same body)':40s} {status:14s} {us:7.1f} us/request")


if __name__ == "__main__":
    main()
