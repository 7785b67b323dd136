"""Export streaming throughput, through each vendor's documented client flow, in-process.

Each case requests an export the way a client does (token, request, clock moved, status, download) and
times only the download: the server streaming the body. The limit of the machine is measured on the same
bytes in the same run: zlib at level 6 compressing the uncompressed body with nothing else to do.
"""

from __future__ import annotations

import gzip
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Callable
from urllib.parse import urlsplit

from emulator.app import create_app
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET, Settings

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass
class Result:
    case: str
    size: str
    rows: int
    seconds: float
    raw_bytes: int
    sent_bytes: int
    zlib6_seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float | None:
        """zlib-6 time over serving time (>= 0.5 means at most twice zlib's time); gzip cases only."""
        if self.sent_bytes == self.raw_bytes:
            return None
        return self.zlib6_seconds / self.seconds if self.seconds else None


def _app(scale: float):
    app = create_app(Settings(state_dir=tempfile.mkdtemp(prefix="bench-"), scale=scale))
    core = app.config["EMULATOR_CORE"]
    core.clock.set(NOW)
    return app, core


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _timed_download(client, url: str, headers: dict | None = None) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    response = client.get(url, headers=headers or {}, buffered=False)
    body = b"".join(response.response)
    return time.perf_counter() - t0, body


def apsis_email(days: float, scale: float) -> tuple[float, bytes, bytes]:
    app, core = _app(scale)
    c = app.test_client()
    token = c.post("/apsis/oauth/token", json={"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
                                               "client_secret": DEFAULT_APSIS_CLIENT_SECRET}).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    start = NOW - timedelta(days=days)
    report = c.post("/apsis/emails/reports", headers=auth, json={"start_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                                 "end_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    report_id = report.get_json()["report_id"]
    core.clock.advance(3600)
    status = c.get(f"/apsis/emails/reports/{report_id}", headers=auth).get_json()
    seconds, body = _timed_download(c, _path(status["file_download_url"]))
    return seconds, body, gzip.decompress(body)


def expertsender_day(activity: str, scale: float) -> tuple[float, bytes, bytes]:
    app, _ = _app(scale)
    c = app.test_client()
    url = f"/expertsender/v2/Api/Activities?apiKey=test_api_key1&date=2026-05-20&type={activity}"
    c.get(url).get_data()  # the world's shards for that day are generated once, as in a long-running server
    seconds, body = _timed_download(c, url)
    return seconds, body, body


def netcore_download(days: float, scale: float) -> tuple[float, bytes, bytes]:
    app, core = _app(scale)
    c = app.test_client()
    auth = {"Authorization": f"Bearer {core.settings.netcore_api_key}"}
    start = (NOW - timedelta(days=days)).date()
    job = c.post("/netcore/v6/logs/download", headers=auth,
                 json={"start_date": start.isoformat(), "end_date": (NOW - timedelta(days=1)).date().isoformat()})
    data = job.get_json()["data"]
    core.clock.advance(3600)
    status = c.get(_path(data["status_url"]), headers=auth).get_json()["data"]
    seconds, body = _timed_download(c, _path(status["download_url"]))
    return seconds, body, body


CASES: list[tuple[str, str, Callable[[], tuple[float, bytes, bytes]]]] = [
    ("APSIS email export (gzip CSV)", "1 day", lambda: apsis_email(1, 1.0)),
    ("APSIS email export (gzip CSV)", "5 days", lambda: apsis_email(5, 1.0)),
    ("ExpertSender Activities Sends (CSV)", "scale 1", lambda: expertsender_day("Sends", 1.0)),
    ("ExpertSender Activities Sends (CSV)", "scale 12", lambda: expertsender_day("Sends", 12.0)),
    ("Netcore download logs (CSV)", "1 day", lambda: netcore_download(2, 1.0)),
    ("Netcore download logs (CSV)", "5 days", lambda: netcore_download(6, 1.0)),
]
FULL_CASES = [
    ("APSIS email export (gzip CSV)", "45 days", lambda: apsis_email(45, 1.0)),
    ("ExpertSender Activities Sends (CSV)", "scale 125", lambda: expertsender_day("Sends", 125.0)),
    ("Netcore download logs (CSV)", "45 days", lambda: netcore_download(46, 1.0)),
]


def run(full: bool = False) -> list[Result]:
    results = []
    for case, size, fn in CASES + (FULL_CASES if full else []):
        seconds, sent, raw = fn()
        t0 = time.perf_counter()
        zlib.compress(raw, 6)
        zlib_seconds = time.perf_counter() - t0
        rows = max(0, raw.count(b"\n") - 1)
        results.append(Result(case, size, rows, seconds, len(raw), len(sent), zlib_seconds))
    return results
