"""Figures that need a real server: start-up time, and the serving worker's peak memory while streaming."""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from datetime import UTC, datetime, timedelta

import emulator
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET
from tests.e2e.server import free_port

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _call(url: str, body: dict | None = None, headers: dict | None = None, method: str | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=600) as resp:
        return resp.read()


def start_server(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, float]:
    """`email-events-emulator serve` on a free loopback port with extra flags and variables: the process,
    its base URL and the seconds until health answered."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--state-dir",
                             tempfile.mkdtemp(prefix="bench-"), "--log-level", "warning", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _call(base + "/_emulator/health")
            return proc, base, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.005)


def startup(runs: int = 3) -> dict[str, float]:
    """Seconds from launching `serve` to the first 200 from health; then the first request of the world.
    The package's bytecode is compiled first, as the container image has it (an editable install under
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module again at each launch)."""
    compileall.compile_dir(os.path.dirname(emulator.__file__), quiet=1)
    best_health, best_first = float("inf"), float("inf")
    for _ in range(runs):
        proc, base, healthy = start_server("--workers", "1")
        try:
            t0 = time.perf_counter()
            _call(base + "/expertsender/v2/Api/Lists?apiKey=test_api_key1")  # builds the world in the worker
            best_first = min(best_first, time.perf_counter() - t0)
            best_health = min(best_health, healthy)
        finally:
            proc.terminate()
            proc.wait()
    return {"to_healthy_s": best_health, "first_world_request_s": best_first}


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _private_mb(pid: int) -> float:
    """Pages only this process holds (USS): what a forked rendering process adds to its worker's memory."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        return 0.0
    return total / 1024


class _ChildrenSampler(threading.Thread):
    """The largest sum of the rendering processes' private memory seen while an export streams."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self.seen = pid, 0.0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            children = _children(self.pid)
            self.seen = max(self.seen, len(children))
            self.peak_mb = max(self.peak_mb, sum(_private_mb(child) for child in children))

    def stop(self) -> None:
        self.done.set()
        self.join()


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


MEMORY_SCALE = 4.0  # about 64k email events a day: 5M rows fit the export's three-month window (seed 1)


def _email_export(base: str, auth: dict, start: datetime) -> tuple[str, dict]:
    """An APSIS email export of [start, NOW), ready: its file URL and the headers to fetch it with."""
    report = json.loads(_call(base + "/apsis/emails/reports", {
        "start_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}, auth))
    _ready(base, report["report_id"])
    status = json.loads(_call(f"{base}/apsis/emails/reports/{report['report_id']}", headers=auth))
    if "file_download_url" not in status:
        raise RuntimeError(f"email export from {start} not ready: {status}")
    return status["file_download_url"], {}


def _profile_export(base: str, auth: dict, start: datetime) -> tuple[str, dict]:
    """An APSIS profile export of every email event type in [start, NOW), ready: its poll URL and headers."""
    section = json.loads(_call(base + "/apsis/audience/sections", headers=auth))["items"][0]["discriminator"]
    events = json.loads(_call(f"{base}/apsis/audience/sections/{section}/events", headers=auth))["items"]
    export = json.loads(_call(base + "/apsis/audience/profiles/exports", {
        "attributes": ["com.apsis1.attributes.email"], "events": [e["discriminator"] for e in events],
        "start_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}, auth))
    _ready(base, export["export_id"])
    return export["file_download_url"], {**auth, "Accept-Encoding": "gzip"}


def _ready(base: str, job_id: str) -> None:
    job = next(j for j in json.loads(_call(base + "/_emulator/jobs"))["items"] if j["id"] == job_id)
    _call(base + "/_emulator/clock", {"advance": job["seconds_to_ready"] + 1})


def _count_rows(resp, marker: bytes | None) -> int:
    """Rows of a gzip body read as it streams: CSV lines after the header, or occurrences of `marker`."""
    inflate, n, tail = zlib.decompressobj(31), 0, b""
    while chunk := resp.read(1 << 16):
        text = tail + inflate.decompress(chunk)
        if marker is None:
            n += text.count(b"\n")
        else:
            n += text.count(marker)
            tail = text[-(len(marker) - 1):]  # a marker cut by the chunk's end is counted with the next
    return n - 1 if marker is None else n


# Each export kind: how to request one ready to download, and what to count its rows by.
MEMORY_EXPORTS = {"APSIS email export (gzip CSV)": (_email_export, None),
                  "APSIS profile export (JSON, gzip)": (_profile_export, b'"correlationId"')}


def memory(windows_days: tuple[float, ...] = (0.3, 1.6)) -> list[dict]:
    """Peak RSS of the one serving worker after streaming exports of growing windows, one server per
    export kind (scale 4: 0.3 days ~ 20k events, 1.6 ~ 165k, 16 ~ 1M, 78 ~ 5.4M)."""
    rows = []
    for export, (request, marker) in MEMORY_EXPORTS.items():
        rows += _memory_of(export, request, marker, windows_days)
    return rows


def _memory_of(export: str, request, marker: bytes | None, windows_days: tuple[float, ...]) -> list[dict]:
    # The size limit (5M cells by default, seed 1 "file too large") is lifted for the 5M-row window.
    proc, base, _ = start_server("--workers", "1", "--scale", str(MEMORY_SCALE),
                                 env={"EMULATOR_APSIS_EXPORT_SIZE_LIMIT": "100000000"})
    rows = []
    try:
        pid = json.loads(_call(base + "/_emulator/health"))["worker_pid"]
        creds = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
                 "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
        for days in windows_days:
            _call(base + "/_emulator/clock", {"set": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
            token = json.loads(_call(base + "/apsis/oauth/token", creds))["access_token"]
            url, headers = request(base, {"Authorization": f"Bearer {token}"}, NOW - timedelta(days=days))
            sampler = _ChildrenSampler(pid)
            sampler.start()
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=600) as resp:
                    n = _count_rows(resp, marker)
            finally:
                seconds = time.perf_counter() - t0
                sampler.stop()
            worker = _peak_rss_mb(pid)
            rows.append({"export": export, "window_days": days, "rows": n, "peak_rss_mb": worker,
                         "render_processes": sampler.seen, "render_private_mb": sampler.peak_mb,
                         "total_mb": worker + sampler.peak_mb, "seconds": seconds})
    finally:
        proc.terminate()
        proc.wait()
    return rows
