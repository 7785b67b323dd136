"""Request throughput and latency of `serve` (granian, the default, and gunicorn) on loopback, with wrk (Debian's package) as the load
generator in its own process: 16 connections per endpoint, for each worker model.

The server runs with the token limit off (EMULATOR_APSIS_TOKEN_LIMIT=0, else the token endpoint answers
429 after ten calls) and a long export delay, so that export status stays `pending` and the profile poll
URL keeps answering 404 for the whole run: the answers clients poll for most of an export's life.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from emulator.settings import (
    DEFAULT_APSIS_CLIENT_ID,
    DEFAULT_APSIS_CLIENT_SECRET,
    DEFAULT_EXPERTSENDER_API_KEY,
    DEFAULT_NETCORE_API_KEY,
)

from .serving import NOW, _call, start_server

CONNECTIONS = 16
# A first run per endpoint, not measured: the first requests each worker serves build the world and
# generate the days asked for (Start-up and Export streaming measure those); that is not the steady state.
WARM_UP_S = 1
# Measured runs per endpoint; the one with the median p99 is reported. A p99 is the slowest 1% of a few
# seconds, and this machine's neighbours take its cores now and then: one run measured 16-17 ms for what
# three runs before and after it measured at 7-8 ms.
RUNS = 3
MODELS = {"granian, 2 workers (default)": ("--workers", "2"),
          "gunicorn sync, 2 workers": ("--server", "gunicorn", "--workers", "2")}


@dataclass
class Figure:
    model: str
    endpoint: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    statuses_ok: bool
    target_ms: float | None


# Token limit off and a long export delay: see the module docstring.
SERVER_ENV = {"EMULATOR_APSIS_TOKEN_LIMIT": "0", "EMULATOR_EXPORT_DELAY": "1000000"}


def _targets(base: str) -> list[tuple[str, str, str, dict[str, str], str | None, float | None]]:
    """(endpoint, method, url, headers, body, p99 target ms) with the state each needs set up."""
    _call(base + "/_emulator/clock", {"set": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    creds = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
             "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
    token = json.loads(_call(base + "/apsis/oauth/token", creds))["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    report = json.loads(_call(base + "/apsis/emails/reports", {"start_at": "2026-05-30T00:00:00Z",
                                                               "end_at": "2026-05-31T00:00:00Z"}, bearer))
    poll = json.loads(_call(base + "/apsis/audience/profiles/exports",
                            {"attributes": ["com.apsis1.attributes.email"]}, bearer))["file_download_url"]
    es_key, nc_key = DEFAULT_EXPERTSENDER_API_KEY, DEFAULT_NETCORE_API_KEY
    return [
        ("APSIS token (POST /oauth/token)", "POST", base + "/apsis/oauth/token",
         {"Content-Type": "application/json"}, json.dumps(creds), None),
        ("APSIS lookup (GET /audience/sections)", "GET", base + "/apsis/audience/sections", bearer, None, 10.0),
        ("APSIS export status (pending)", "GET", f"{base}/apsis/emails/reports/{report['report_id']}", bearer,
         None, 10.0),
        ("APSIS profile poll URL (404)", "GET", poll, bearer, None, 10.0),
        ("ExpertSender Activities, small day", "GET",
         f"{base}/expertsender/v2/Api/Activities?apiKey={es_key}&date=2026-05-30&type=Complaints", {}, None, None),
        ("Netcore stats (7 days)", "GET", f"{base}/netcore/v5.1/stats?startdate=2026-05-24&enddate=2026-05-30",
         {"api_key": nc_key}, None, None),
        ("Netcore logs page (limit 10)", "GET",
         f"{base}/netcore/v5.1/events?startdate=2026-05-30&enddate=2026-05-30&limit=10",
         {"api_key": nc_key}, None, None),
    ]


def _lua(method: str, headers: dict[str, str], body: str | None) -> str:
    lines = [f'wrk.method = "{method}"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    return "\n".join(lines) + "\n"


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"wrk printed a latency of {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _wrk(url: str, script: str, seconds: float) -> tuple[float, float, float, bool]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    out = subprocess.run(["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{max(1, round(seconds))}s", "--latency", "-s",
                          handle.name, url], capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    if "Latency Distribution" not in out:
        raise RuntimeError(f"wrk gave no latency figures for {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    distribution = out.split("Latency Distribution", 1)[1]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", distribution, re.MULTILINE).group(1))
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", distribution, re.MULTILINE).group(1))
    errors = "Socket errors" in out and not re.search(r"Socket errors: connect 0, read 0, write 0, timeout 0", out)
    return rps, p50, p99, not errors


def run(seconds: float = 4.0) -> list[Figure]:
    if not shutil.which("wrk"):
        return []
    figures = []
    for model, args in MODELS.items():
        proc, base, _ = start_server(*args, env=SERVER_ENV)
        try:
            for endpoint, method, url, headers, body, target in _targets(base):
                expected = 404 if "404" in endpoint else 200
                status = _status(method, url, headers, body)
                script = _lua(method, headers, body)
                _wrk(url, script, WARM_UP_S)  # not measured: see WARM_UP_S
                runs = sorted((_wrk(url, script, seconds) for _ in range(RUNS)), key=lambda run: run[2])
                rps, p50, p99, _ = runs[len(runs) // 2]  # the run of the median p99
                clean = all(run[3] for run in runs)
                figures.append(Figure(model, endpoint, rps, p50, p99, clean and status == expected, target))
        finally:
            proc.terminate()
            proc.wait()
    return figures


def _status(method: str, url: str, headers: dict[str, str], body: str | None) -> int:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body.encode() if body else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
