"""The HTTP `Date` header on the virtual clock, as every other time the emulator shows.

Clients compute token expiry, download-URL lifetimes and clock skew from `Date`, so it must agree with the
virtual now (`token exp`, `file_download_url_expires_at`, ...). `VirtualDate` sets it on every answer of
every app (control API and vendors). Gunicorn writes a `Date` of its own and drops the app's;
`patch_gunicorn` makes it send the app's instead, so an answer carries exactly one, the virtual one.
"""

from __future__ import annotations

from email.utils import formatdate
from functools import lru_cache
from typing import Any

from .clock import Clock


def http_date(ts: float) -> str:
    """RFC 9110 IMF-fixdate, e.g. "Thu, 08 Dec 2011 12:02:14 GMT" (whole seconds)."""
    return _http_date(int(ts // 1))


@lru_cache(maxsize=4)  # requests of the same second share it
def _http_date(second: int) -> str:
    return formatdate(second, usegmt=True)


# environ key: the virtual now an app already read for this request (the vendor apps' journal entry), which
# the Date then shows instead of reading the clock again after the request's state view has ended.
NOW_KEY = "emulator.now"


class VirtualDate:
    """WSGI middleware: replaces the response's `Date` with the virtual now."""

    def __init__(self, app: Any, clock: Clock):
        self.app = app
        self.clock = clock

    def __call__(self, environ: dict, start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if any(k.lower() == "date" for k, _ in headers):  # none of the apps sets one: kept for safety
                headers = [(k, v) for k, v in headers if k.lower() != "date"]
            now = environ.get(NOW_KEY)
            headers.append(("Date", http_date(self.clock.now() if now is None else now)))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def patch_gunicorn() -> None:
    """Gunicorn writes its own `Date` and drops the app's (it counts `date` among hop-by-hop headers): keep
    the app's in place of its own (idempotent; nothing to do without gunicorn)."""
    try:
        from gunicorn.http import wsgi
    except ImportError:
        return
    response = wsgi.Response
    if getattr(response, "emulator_virtual_date", False):
        return
    process_headers, default_headers = response.process_headers, response.default_headers

    def keep_date(self: Any, headers: list[tuple[str, str]]) -> None:
        self.emulator_date = next((v for k, v in headers if k.lower() == "date"), None)
        process_headers(self, headers)

    def with_date(self: Any) -> list[str]:
        lines = default_headers(self)
        date = getattr(self, "emulator_date", None)
        if date is not None:
            lines = [f"Date: {date}\r\n" if line.startswith("Date:") else line for line in lines]
        return lines

    response.process_headers, response.default_headers = keep_date, with_date
    response.emulator_virtual_date = True
