"""`email-events-emulator generate`: write a vendor's export file to disk without a server.

The request goes through the very app the server runs (in-process WSGI, no socket), the virtual clock is
moved instead of waiting for an asynchronous export, and the body is streamed to the file chunk by chunk:
the file is byte-identical to what the server sends for the same request, seed and settings, and memory
stays flat whatever its size.

On a terminal a progress bar shows a real percentage: how far the rows written so far have come through
the export's time window (the `server_time`, `Date` or `modifiedTime` of the last row; every export is in
time order), or for the APSIS profile export how many profiles of the account are written.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, TextIO
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

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
    """What to export. Dates are days; datetimes (aware) are moments. For APSIS the end is exclusive (a
    moment), for ExpertSender and Netcore it is the last day, inclusive."""

    vendor: str
    kind: str
    start: date | datetime | None = None
    end: date | datetime | None = None
    activity: str = "Sends"  # ExpertSender type
    params: tuple[tuple[str, str], ...] = ()
    compression: str | None = None  # gzip | none; None: as the vendor serves it by default


class Written(NamedTuple):
    path: str
    size: int  # bytes written
    seconds: float
    rows: int | None  # data rows (profiles for the APSIS profile export) when counted
    unit: str = "rows"


def parse_params(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GenerateError(f"--param needs NAME=VALUE, got {item!r}")
        out.append((name.strip(), value))
    return tuple(out)


def parse_moment(text: str | None, flag: str) -> date | datetime | None:
    """YYYY-MM-DD (a day) or RFC 3339 (a moment; naive means UTC)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z
    except ValueError:
        raise GenerateError(f"{flag}: expected YYYY-MM-DD or RFC 3339, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json_value(text: str) -> Any:
    """A body parameter: JSON when it parses (lists, objects, numbers, booleans), else the plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _moment(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def _iso(value: date | datetime) -> str:
    return _moment(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _stamp(value: date | datetime) -> str:
    return value.isoformat() if not isinstance(value, datetime) else value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _ms(value: date | datetime) -> int:
    return int(_moment(value).timestamp() * 1000)


def _naive_seconds(value: datetime) -> float:
    """Seconds of a naive local time on its own scale (no system time zone involved)."""
    return (value - datetime(1970, 1, 1)).total_seconds()


def _local_seconds(text: str) -> float:
    return _naive_seconds(datetime.strptime(text, "%Y-%m-%d %H:%M:%S"))


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- progress ------------------------------------------------------------------------------------------


class Meter:
    """Reads the plain (uncompressed) body as it is written: counts rows and tells how far it has come."""

    unit = "rows"

    def __init__(self) -> None:
        self.lines = 0
        self.head = b""  # the first line (CSV header), once complete
        self.tail = b""  # the last bytes, to read the last complete row

    def feed(self, plain: bytes) -> None:
        self.lines += plain.count(b"\n")
        if not self.head or not self.head.endswith(b"\n"):
            self.head = (self.head + plain)[:65536]
            if b"\n" in self.head:
                self.head = self.head[: self.head.index(b"\n") + 1]
        self.tail = plain[-8192:] if len(plain) >= 8192 else (self.tail + plain)[-8192:]

    @property
    def rows(self) -> int:
        return max(0, self.lines - 1)  # the header line

    def fraction(self) -> float | None:
        return None


class TimeMeter(Meter):
    """Progress through a time window from one column of the last complete CSV row."""

    def __init__(self, column: str, lo: float, hi: float, parse: Callable[[str], float], reverse: bool = False):
        super().__init__()
        self.column, self.lo, self.hi, self.parse, self.reverse = column, lo, hi, parse, reverse
        self.index: int | None = None
        self.best = 0.0

    def fraction(self) -> float | None:
        if self.hi <= self.lo:
            return None
        if self.index is None:
            if not self.head.endswith(b"\n"):
                return None
            names = next(csv.reader([self.head.decode("utf-8-sig").strip()]), [])
            if self.column not in names:
                return None
            self.index = names.index(self.column)
        end = self.tail.rfind(b"\n")
        start = self.tail.rfind(b"\n", 0, end)
        if end <= 0 or start < 0 or self.lines < 2:
            return self.best
        try:
            fields = next(csv.reader([self.tail[start + 1: end].decode("utf-8", "replace").strip()]))
            at = (self.parse(fields[self.index]) - self.lo) / (self.hi - self.lo)
        except (ValueError, IndexError, StopIteration):
            return self.best
        at = 1.0 - at if self.reverse else at
        self.best = max(self.best, min(1.0, max(0.0, at)))  # never backwards
        return self.best


class CountMeter(Meter):
    """Progress as occurrences of a token (one per item) against a known total."""

    def __init__(self, token: bytes, total: int | None, unit: str):
        super().__init__()
        self.token, self.total, self.unit, self.count = token, total, unit, 0

    def feed(self, plain: bytes) -> None:
        self.count += plain.count(self.token)

    @property
    def rows(self) -> int:
        return self.count

    def fraction(self) -> float | None:
        return min(1.0, self.count / self.total) if self.total else None


class Progress:
    """A one-line progress bar on a terminal: percentage, bytes, rows, rate and time left; silent otherwise."""

    WIDTH = 28

    def __init__(self, stream: TextIO, label: str, enabled: bool, meter: Meter | None = None,
                 total_bytes: int | None = None, started: float | None = None):
        self.stream, self.label, self.enabled = stream, label, enabled
        self.meter, self.total_bytes = meter, total_bytes
        self.started = time.perf_counter() if started is None else started
        self.shown = 0.0
        self.bytes = 0
        self.frame = 0

    def update(self, n: int) -> None:
        self.bytes += n
        if self.enabled:
            now = time.perf_counter()
            if now - self.shown >= 0.1:
                self.shown = now
                self._draw(now, final=False)

    def fraction(self) -> float | None:
        if self.total_bytes:
            return min(1.0, self.bytes / self.total_bytes)
        return self.meter.fraction() if self.meter else None

    def _draw(self, now: float, final: bool) -> None:
        elapsed = max(now - self.started, 1e-9)
        part = 1.0 if final else self.fraction()
        if part is None:  # unknown: a bouncing block
            self.frame += 1
            span = 2 * (self.WIDTH - 3)
            pos = self.frame % span
            pos = pos if pos <= self.WIDTH - 3 else span - pos
            bar, percent, left = " " * pos + "###" + " " * (self.WIDTH - 3 - pos), "    ", ""
        else:
            filled = int(part * self.WIDTH)
            bar, percent = "#" * filled + "." * (self.WIDTH - filled), f"{part * 100:3.0f}%"
            left = f"  {(elapsed / part - elapsed):5.0f} s left" if 0.02 < part < 1 else ""
        line = f"\r{self.label} [{bar}] {percent} {self.bytes / 1e6:9.1f} MB {self.bytes / 1e6 / elapsed:7.1f} MB/s"
        if self.meter is not None:
            rows = self.meter.rows
            line += f" {rows:12,} {self.meter.unit} {rows / elapsed:9,.0f}/s"
        line += f" {elapsed:6.1f} s" + left
        self.stream.write(line + "\x1b[K")  # erase what a longer earlier line left
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.perf_counter(), final=True)
            self.stream.write("\n")
            self.stream.flush()


# -- the in-process app and each vendor's request flow --------------------------------------------------


@dataclass
class Export:
    response: Any  # a streamed werkzeug response
    label: str
    meter: Meter | None = None
    gunzip: bool = False  # write the served gzip body decompressed
    started: float = 0.0  # perf_counter when the request flow began (for the rates shown)


class _Session:
    """The emulator app in-process, with a throwaway state directory."""

    def __init__(self, settings: Settings):
        from .app import create_app

        self.state_dir = tempfile.mkdtemp(prefix="emulator-generate-")
        # expertsender_gzip: ExpertSender answers plain unless configured; --compression gzip asks for gzip
        self.app = create_app(replace(settings, state_dir=self.state_dir, expertsender_gzip=True))
        self.core = self.app.config["EMULATOR_CORE"]
        self.client = self.app.test_client()

    def close(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def check(self, response, what: str):
        if response.status_code >= 400:
            body = response.get_data(as_text=True)
            response.close()
            raise GenerateError(f"{what}: HTTP {response.status_code}: {body[:4000]}")
        return response

    def wait(self, poll) -> Any:
        """Poll until `poll()` returns something, moving the virtual clock instead of sleeping: 1 s, then
        doubling up to an hour a step (an export never needs more than minutes of virtual time)."""
        step = 1.0
        for _ in range(200):
            result = poll()
            if result is not None:
                return result
            self.core.clock.advance(step)
            step = min(step * 2, 3600)
        raise GenerateError("the export never became ready")


def _apsis_auth(s: _Session) -> dict[str, str]:
    settings = s.core.settings
    r = s.check(s.client.post("/apsis/oauth/token", json={
        "grant_type": "client_credentials", "client_id": settings.apsis_client_id,
        "client_secret": settings.apsis_client_secret}), "token")
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def _apsis_email(s: _Session, req: Request) -> Export:
    if req.start is None:
        raise GenerateError("apsis email-events needs --start (or --date)")
    end = req.end if req.end is not None else _moment(req.start) + timedelta(days=1)
    body = {"start_at": _iso(req.start), "end_at": _iso(end), **{k: _json_value(v) for k, v in req.params}}
    auth = _apsis_auth(s)
    now_ms = s.core.clock.now_ms()
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
    response = s.check(s.client.get(_local(status["file_download_url"]), headers=headers, buffered=False),
                       "export file")
    meter = Meter()  # rows only, when the window cannot be read back
    try:
        lo = _ms(datetime.fromisoformat(str(body["start_at"])))
        hi = min(_ms(datetime.fromisoformat(str(body.get("end_at", body["start_at"])))), now_ms)
        meter = TimeMeter("server_time", lo, hi, float)
    except ValueError:
        pass
    return Export(response, f"apsis email-events {_stamp(req.start)}", meter, gunzip=req.compression == "none")


def _apsis_profiles(s: _Session, req: Request) -> Export:
    body: dict[str, Any] = {}
    if req.start is not None:
        body["start_at"] = _iso(req.start)
        if req.end is not None:  # else the vendor's default: a week after start_at
            body["end_at"] = _iso(req.end)
    elif req.end is not None:
        raise GenerateError("--end needs --start")
    body.update({k: _json_value(v) for k, v in req.params})
    if not {"attributes", "tags"} & set(body):
        body["attributes"] = ["com.apsis1.attributes.email"]  # with neither, the file is `{}`
    auth = _apsis_auth(s)
    answer = s.check(s.client.post("/apsis/audience/profiles/exports", json=body, headers=auth),
                     "export request").get_json()
    url = _local(answer["file_download_url"])
    headers = {**auth, **({"Accept-Encoding": "gzip"} if req.compression == "gzip" else {})}

    def ready():
        response = s.client.get(url, headers=headers, buffered=False)
        if response.status_code == 404:
            response.close()
            return None
        return s.check(response, "export file")

    response = s.wait(ready)
    job = s.core.exports.get(answer.get("export_id", ""), vendor="apsis")
    total = (job.meta or {}).get("estimated_profiles") if job else None
    return Export(response, "apsis profile-events", CountMeter(b'"sections":{', total, "profiles"))


def _expertsender(s: _Session, req: Request, day: date) -> Export:
    query = {"apiKey": s.core.settings.expertsender_api_key, "date": day.isoformat(), "type": req.activity,
             **dict(req.params)}
    headers = {"Accept-Encoding": "gzip"} if req.compression == "gzip" else {}
    response = s.check(s.client.get(f"/expertsender/v2/Api/Activities?{urlencode(query)}", headers=headers,
                                    buffered=False), "Activities")
    midnight = _naive_seconds(datetime(day.year, day.month, day.day))  # business-unit local times
    return Export(response, f"expertsender {req.activity} {day}",
                  TimeMeter("Date", midnight, midnight + 86_400, _local_seconds))


def _netcore(s: _Session, req: Request) -> Export:
    if req.start is None:
        raise GenerateError("netcore download needs --start (or --date)")
    start, end = _day(req.start), _day(req.end if req.end is not None else req.start)
    body: dict[str, Any] = {"start_date": start.isoformat(), "end_date": end.isoformat(),
                            **{k: _json_value(v) for k, v in req.params}}
    if req.compression:
        body["compression"] = req.compression
    auth = {"Authorization": f"Bearer {s.core.settings.netcore_api_key}"}
    zone = ZoneInfo(s.core.settings.netcore_timezone)
    now = datetime.fromtimestamp(s.core.clock.now_ms() / 1000, zone).replace(tzinfo=None)
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
    response = s.check(s.client.get(_local(status["download_url"]), buffered=False), "download file")
    meter = Meter()
    try:  # modifiedTime is account-local, as are the dates: compare naive local times
        lo = datetime.fromisoformat(str(body["start_date"]))
        hi = min(datetime.fromisoformat(str(body["end_date"])) + timedelta(days=1), now)
        meter = TimeMeter("modifiedTime", _naive_seconds(lo), _naive_seconds(hi), _local_seconds,
                          reverse=str(body.get("sort", "asc")).lower() == "desc")
    except ValueError:
        pass
    return Export(response, f"netcore download {start}", meter)


# -- writing ---------------------------------------------------------------------------------------------


def default_name(req: Request, day: date | None = None) -> str:
    """The file name used when -o is a directory (or absent)."""
    gz = ".gz" if req.compression == "gzip" else ""
    if req.vendor == "apsis" and req.kind == "email-events":
        window = f"-{_stamp(req.start)}" if req.start is not None else ""
        return f"apsis-email-events{window}.csv" + ("" if req.compression == "none" else ".gz")
    if req.vendor == "apsis":
        return f"apsis-profile-events.json{gz}"
    if req.vendor == "expertsender":
        return f"activities-{req.activity}-{day}.csv{gz}"
    window = f"-{_stamp(req.start)}" if req.start is not None else ""
    return f"netcore-download{window}.csv{gz}"


def _body_chunks(response) -> Iterator[bytes]:
    try:
        for chunk in response.response:
            if chunk:
                yield chunk
    finally:
        response.close()


def _save(export: Export, path: str, stream: TextIO, enabled: bool) -> Written:
    response = export.response
    served_gzip = (response.headers.get("Content-Encoding", "").lower() == "gzip"
                   or response.mimetype == "application/gzip")
    gunzip = export.gunzip and served_gzip
    length = response.headers.get("Content-Length")
    meter = export.meter
    progress = Progress(stream, export.label, enabled, meter,
                        int(length) if length and length.isdigit() and not gunzip else None,
                        export.started or None)
    # The meter reads plain bytes: always when they are at hand (counting lines is cheap), and on a
    # terminal also by inflating a copy of a gzip body (zlib inflates far faster than rows render).
    view = zlib.decompressobj(31) if meter is not None and served_gzip and not gunzip and enabled else None
    if meter is not None and served_gzip and not gunzip and not enabled:
        meter = None
    inflate = zlib.decompressobj(31) if gunzip else None
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=directory, prefix=".generate-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in _body_chunks(response):
                data = inflate.decompress(chunk) if inflate else chunk
                handle.write(data)
                size += len(data)
                if meter is not None:
                    meter.feed(view.decompress(chunk) if view else data)
                progress.update(len(data))
            if inflate:
                tail = inflate.flush()
                handle.write(tail)
                size += len(tail)
                if meter is not None:
                    meter.feed(tail)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # mkstemp creates 0600; a generated file is an ordinary file
        os.replace(partial, path)  # never a half-written file under the final name
    except BaseException:
        os.unlink(partial)
        raise
    progress.finish()
    return Written(path, size, time.perf_counter() - progress.started,
                   meter.rows if meter is not None else None, meter.unit if meter is not None else "rows")


def generate(settings: Settings, req: Request, out: str | None = None, *, progress_stream: TextIO | None = None,
             show_progress: bool | None = None) -> list[Written]:
    """Write the export to `out`: a file, or a directory (created for an ExpertSender range of days) that
    gets the default name(s); None is the current directory. Returns one `Written` per file."""
    if req.vendor not in KINDS:
        raise GenerateError(f"unknown vendor {req.vendor!r}: one of {', '.join(KINDS)}")
    if req.kind not in KINDS[req.vendor]:
        raise GenerateError(f"unknown kind {req.kind!r} for {req.vendor}: one of {', '.join(KINDS[req.vendor])}")
    if req.compression not in (None, "gzip", "none"):
        raise GenerateError("--compression is gzip or none")
    if req.start is not None and req.end is not None and _day(req.end) < _day(req.start):
        raise GenerateError("--end is before --start")
    out = out or "."
    stream = progress_stream or sys.stderr
    enabled = _isatty(stream) if show_progress is None else show_progress
    days: list[date] = []
    if req.vendor == "expertsender":
        if req.start is None:
            raise GenerateError("expertsender activities needs --date (or --start and --end)")
        last = _day(req.end) if req.end is not None else _day(req.start)
        days = [_day(req.start) + timedelta(days=i) for i in range((last - _day(req.start)).days + 1)]
        if len(days) > 1 and os.path.exists(out) and not os.path.isdir(out):
            raise GenerateError(f"{out} is a file: a range of days is written as one file per day into a directory")
    from .vendors.base import ConnectionDropped

    session = _Session(settings)
    written: list[Written] = []
    try:
        _refuse_the_future(session, req, days)
        return _run(session, req, out, days, stream, enabled, written)
    except ConnectionDropped as exc:  # a scenario's drop or truncate rule: the partial file is gone
        raise GenerateError(f"the server dropped the connection ({exc}); "
                            f"{len(written)} file(s) written before") from None
    finally:
        session.close()


def _refuse_the_future(s: _Session, req: Request, days: list[date]) -> None:
    """A window after the virtual now holds no events: refuse it instead of writing a header-only file.
    Netcore's own API refuses a future start date (400 naming `start_date`); APSIS and ExpertSender would
    answer an empty export, so the command refuses for them with the same wording."""
    now = datetime.fromtimestamp(s.core.clock.now_ms() / 1000, UTC)
    if req.vendor == "apsis" and req.start is not None and _moment(req.start) >= now:
        raise GenerateError(f"the window starts at {_iso(req.start)}, not in the past (now is "
                            f"{now:%Y-%m-%dT%H:%M:%SZ}): no event has happened in it yet")
    if req.vendor == "expertsender" and days:
        zone = s.core.settings.expertsender_timezone
        today = now.astimezone(ZoneInfo(zone)).date()
        if days[-1] > today:
            raise GenerateError(f"the window ends on {days[-1].isoformat()}, after today "
                                f"({today.isoformat()} in {zone}): no activity has happened on a later "
                                "day yet")


def _run(session: _Session, req: Request, out: str, days: list[date], stream: TextIO, enabled: bool,
         written: list[Written]) -> list[Written]:
    if req.vendor == "expertsender":
        folder = len(days) > 1 or os.path.isdir(out)
        for n, day in enumerate(days, 1):
            started = time.perf_counter()
            export = _expertsender(session, req, day)
            export.started = started
            if len(days) > 1:
                export.label += f" ({n}/{len(days)})"
            path = os.path.join(out, default_name(req, day)) if folder else out
            written.append(_save(export, path, stream, enabled))
        return written
    started = time.perf_counter()
    if req.vendor == "apsis":
        export = (_apsis_email if req.kind == "email-events" else _apsis_profiles)(session, req)
    else:
        export = _netcore(session, req)
    export.started = started
    path = os.path.join(out, default_name(req)) if os.path.isdir(out) else out
    written.append(_save(export, path, stream, enabled))
    return written


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
