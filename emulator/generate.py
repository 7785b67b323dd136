"""`email-events-emulator generate`: write a vendor's export file to disk without a server.

The request goes through the very app the server runs (in-process WSGI, no socket), the virtual clock is
moved instead of waiting for an asynchronous export, and the body is streamed to the file chunk by chunk:
the file is byte-identical to what the server sends for the same request, seed and settings, and memory
stays flat whatever its size.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO, TextIO
from urllib.parse import urlencode, urlsplit

from .settings import Settings

KINDS = {
    "apsis": ("email-events", "profile-events"),
    "expertsender": ("activities",),
    "netcore": ("download",),
}


class GenerateError(Exception):
    """A request the vendor refused, or arguments that make no request."""


@dataclass
class Request:
    vendor: str
    kind: str
    start: date | datetime | None = None
    end: date | datetime | None = None
    activity: str = "Sends"  # ExpertSender type
    params: tuple[tuple[str, str], ...] = ()
    compression: str | None = None  # gzip | none; None: as the vendor serves it by default


def parse_params(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise GenerateError(f"--param needs name=value, got {item!r}")
        out.append((name.strip(), value))
    return tuple(out)


def _json_value(text: str) -> Any:
    """A body parameter: JSON when it parses (lists, numbers, booleans), else the plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _iso(moment: date | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class _Session:
    """The emulator app in-process, with a throwaway state directory."""

    def __init__(self, settings: Settings):
        from .app import create_app

        self.state_dir = tempfile.mkdtemp(prefix="emulator-generate-")
        self.app = create_app(replace(settings, state_dir=self.state_dir))
        self.core = self.app.config["EMULATOR_CORE"]
        self.client = self.app.test_client()

    def close(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def check(self, response, what: str):
        if response.status_code >= 400:
            raise GenerateError(f"{what}: HTTP {response.status_code}: {response.get_data(as_text=True)[:2000]}")
        return response

    def wait(self, poll) -> Any:
        """Poll until `poll()` returns something, moving the virtual clock instead of sleeping."""
        step = 1.0
        for _ in range(60):
            result = poll()
            if result is not None:
                return result
            self.core.clock.advance(step)
            step = min(step * 2, 86_400)
        raise GenerateError("the export never became ready")


def _apsis_auth(s: _Session) -> dict[str, str]:
    settings = s.core.settings
    r = s.check(s.client.post("/apsis/oauth/token", json={
        "grant_type": "client_credentials", "client_id": settings.apsis_client_id,
        "client_secret": settings.apsis_client_secret}), "token")
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def _window(req: Request, default_days: int = 1) -> tuple[date | datetime, date | datetime]:
    end = req.end or (req.start + timedelta(days=default_days) if req.start else None)
    if req.start is None or end is None:
        raise GenerateError("give the window with --start (and --end)")
    return req.start, end


def _apsis_email(s: _Session, req: Request) -> tuple[Any, dict[str, str]]:
    auth = _apsis_auth(s)
    start, end = _window(req)
    body = {"start_at": _iso(start), "end_at": _iso(end), **{k: _json_value(v) for k, v in req.params}}
    report = s.check(s.client.post("/apsis/emails/reports", json=body, headers=auth), "export request").get_json()

    def ready():
        response = s.check(s.client.get(f"/apsis/emails/reports/{report['report_id']}", headers=auth),
                           "export status")
        status = response.get_json()
        if status["status"] == "pending":
            return None
        if status["status"] != "completed":
            raise GenerateError(f"the export ended as {status['status']!r}: {json.dumps(status)}")
        return status, response.headers.get("x-apsis-auth")

    status, header_auth = s.wait(ready)
    headers = {"x-apsis-auth": header_auth} if header_auth else {}  # header_auth=true exports
    return s.check(s.client.get(_local(status["file_download_url"]), headers=headers, buffered=False),
                   "export file"), {}


def _apsis_profiles(s: _Session, req: Request) -> tuple[Any, dict[str, str]]:
    auth = _apsis_auth(s)
    body: dict[str, Any] = {k: _json_value(v) for k, v in req.params}
    if "attributes" not in body:
        body["attributes"] = ["com.apsis1.attributes.email"]
    if req.start is not None:
        start, end = _window(req, default_days=7)
        body.setdefault("start_at", _iso(start))
        body.setdefault("end_at", _iso(end))
    r = s.check(s.client.post("/apsis/audience/profiles/exports", json=body, headers=auth), "export request")
    url = _local(r.get_json()["file_download_url"])
    headers = {**auth, **({"Accept-Encoding": "gzip"} if req.compression == "gzip" else {})}

    def ready():
        response = s.client.get(url, headers=headers, buffered=False)
        if response.status_code == 404:
            response.close()
            return None
        return s.check(response, "export file")

    return s.wait(ready), {}


def _expertsender(s: _Session, req: Request, day: date) -> Any:
    query = {"apiKey": s.core.settings.expertsender_api_key, "date": day.isoformat(), "type": req.activity,
             **dict(req.params)}
    headers = {"Accept-Encoding": "gzip"} if req.compression == "gzip" else {}
    return s.check(s.client.get(f"/expertsender/v2/Api/Activities?{urlencode(query)}", headers=headers,
                                buffered=False), "Activities")


def _netcore(s: _Session, req: Request) -> tuple[Any, dict[str, str]]:
    auth = {"Authorization": f"Bearer {s.core.settings.netcore_api_key}"}
    start, end = _window(req, default_days=0)
    body: dict[str, Any] = {"start_date": _day(start).isoformat(), "end_date": _day(end).isoformat(),
                            **{k: _json_value(v) for k, v in req.params}}
    if req.compression == "gzip":
        body["compression"] = "gzip"
    job = s.check(s.client.post("/netcore/v6/logs/download", json=body, headers=auth),
                  "download request").get_json()["data"]

    def ready():
        status = s.check(s.client.get(_local(job["status_url"]), headers=auth), "download status").get_json()["data"]
        if status["state"] == "pending":
            return None
        if status["state"] != "ready":
            raise GenerateError(f"the download ended as {status['state']!r}: {json.dumps(status)}")
        return status

    status = s.wait(ready)
    return s.check(s.client.get(_local(status["download_url"]), buffered=False), "download file"), {}


class Progress:
    """A one-line progress display on a terminal (bytes written, rate); silent otherwise."""

    def __init__(self, stream: TextIO, label: str, enabled: bool):
        self.stream, self.label, self.enabled = stream, label, enabled
        self.started = time.perf_counter()
        self.shown = 0.0
        self.bytes = 0
        self.frame = 0

    def update(self, n: int) -> None:
        self.bytes += n
        now = time.perf_counter()
        if self.enabled and now - self.shown >= 0.1:
            self.shown = now
            self._draw(now, final=False)

    def _draw(self, now: float, final: bool) -> None:
        elapsed = max(now - self.started, 1e-9)
        width = 24
        if final:
            bar = "#" * width
        else:
            self.frame += 1
            pos = self.frame % (2 * width - 6)
            pos = pos if pos < width - 3 else 2 * width - 6 - pos
            bar = " " * pos + "###" + " " * (width - 3 - pos)
        self.stream.write(f"\r{self.label} [{bar}] {self.bytes / 1e6:8.1f} MB  {self.bytes / 1e6 / elapsed:6.1f} MB/s"
                          f"  {elapsed:6.1f} s")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter(), final=True)
            self.stream.write("\n")
            self.stream.flush()


def _body_chunks(response) -> Iterator[bytes]:
    try:
        for chunk in response.response:
            if chunk:
                yield chunk
    finally:
        response.close()


def _write(response, handle: BinaryIO, progress: Progress, gunzip: bool) -> int:
    inflate = zlib.decompressobj(31) if gunzip else None
    total = 0
    for chunk in _body_chunks(response):
        data = inflate.decompress(chunk) if inflate else chunk
        handle.write(data)
        total += len(data)
        progress.update(len(data))
    if inflate:
        tail = inflate.flush()
        handle.write(tail)
        total += len(tail)
    return total


def generate(settings: Settings, req: Request, out: str, *, progress_stream: TextIO | None = None,
             show_progress: bool | None = None) -> list[tuple[str, int]]:
    """Write the export to `out` (a file; a directory for an ExpertSender range of days).
    Returns (path, bytes) per file written."""
    if req.vendor not in KINDS:
        raise GenerateError(f"unknown vendor {req.vendor!r}: one of {', '.join(KINDS)}")
    if req.kind not in KINDS[req.vendor]:
        raise GenerateError(f"unknown kind {req.kind!r} for {req.vendor}: one of {', '.join(KINDS[req.vendor])}")
    if req.compression not in (None, "gzip", "none"):
        raise GenerateError("--compression is gzip or none")
    stream = progress_stream or sys.stderr
    enabled = stream.isatty() if show_progress is None else show_progress
    session = _Session(settings)
    written: list[tuple[str, int]] = []
    try:
        if req.vendor == "expertsender":
            start, end = req.start, req.end
            if start is None:
                raise GenerateError("give the day with --start (or --date)")
            days = [_day(start) + timedelta(days=i) for i in range(max(1, (_day(end) - _day(start)).days + 1))] \
                if end else [_day(start)]
            targets = [(day, out) for day in days] if len(days) == 1 else [
                (day, os.path.join(out, f"activities-{req.activity}-{day.isoformat()}.csv"
                                   + (".gz" if req.compression == "gzip" else ""))) for day in days]
            if len(days) > 1:
                os.makedirs(out, exist_ok=True)
            for day, path in targets:
                response = _expertsender(session, req, day)
                written.append((path, _save(response, path, f"{req.activity} {day}", stream, enabled, False)))
            return written
        if req.vendor == "apsis":
            response, _ = (_apsis_email if req.kind == "email-events" else _apsis_profiles)(session, req)
            gunzip = req.kind == "email-events" and req.compression == "none"  # the file is served gzip
        else:
            response, _ = _netcore(session, req)
            gunzip = False
        written.append((out, _save(response, out, f"{req.vendor} {req.kind}", stream, enabled, gunzip)))
        return written
    finally:
        session.close()


def _save(response, path: str, label: str, stream: TextIO, enabled: bool, gunzip: bool) -> int:
    progress = Progress(stream, label, enabled)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=directory, prefix=".generate-")
    try:
        with os.fdopen(fd, "wb") as handle:
            size = _write(response, handle, progress, gunzip)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # mkstemp creates 0600; a generated file is an ordinary file
        os.replace(partial, path)  # never a half-written file under the final name
    except BaseException:
        os.unlink(partial)
        raise
    progress.finish()
    return size
