"""What every vendor app shares: fault rules, the journal, and errors in the vendor's own format.

A vendor package calls `make_vendor_app(core, name, render_error)` and adds its routes. The hooks here
apply the active fault rules before the view runs, record every request in the journal after it, and turn
any HTTP error (404, 405, bad input) into the vendor's error format instead of Flask's HTML page.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..core import Core
from ..faults import SCENARIO_HEADER, Decision, RequestInfo

log = logging.getLogger("emulator")

# render_error(status, message, headers) -> a Response in the vendor's error format
ErrorRenderer = Callable[[int, str], Response]

DROP_FLAG = "emulator.drop"
# Request bodies larger than this are refused with 413 before they are read (an emulator choice where a vendor
# documents no limit: the contracts' largest valid body is a few kB).
MAX_BODY_BYTES = 1024 * 1024


def body_too_large(app: Flask, limit: int) -> Callable[[], str | None]:
    """Refuse a body over `limit` bytes without reading it whole: one that announces its length by its
    Content-Length, before anything reads it; a chunked one by reading at most `limit` + 1 bytes of it (kept
    for the view when it fits). Werkzeug's MAX_CONTENT_LENGTH alone would cut a chunked body at the limit
    and hand the view its first part. The check answers the refusal's message, or None."""
    app.config["MAX_CONTENT_LENGTH"] = limit
    message = f"The request body exceeds the limit of {limit // 1024} kB."

    def check() -> str | None:
        length = request.content_length
        if length is not None:
            return message if length > limit else None
        environ = request.environ
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return None
        if not environ.get("wsgi.input_terminated"):
            return None  # the server does not end the stream itself: Werkzeug reads none of it
        stream, parts, held = environ["wsgi.input"], [], 0
        while held <= limit and (part := stream.read(limit + 1 - held)):
            parts.append(part)
            held += len(part)
        if held > limit:
            return message
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(b"".join(parts)), str(held)
        return None

    return check


class ConnectionDropped(ConnectionError):
    """Raised in-process where a real server would have closed the connection."""


def drop_connection(environ: dict) -> None:
    """Close the client connection now (under gunicorn), or raise ConnectionDropped in-process."""
    environ[DROP_FLAG] = True
    sock = environ.get("gunicorn.socket")
    if sock is None:
        raise ConnectionDropped("the emulator dropped the connection (fault rule)")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class DropMiddleware:
    """Honours a drop decided before the response: nothing is sent, the connection closes."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        if environ.get(DROP_FLAG):
            if hasattr(body, "close"):
                body.close()
            drop_connection(environ)
            return []
        return body


def _truncate(chunks: Iterable[bytes], limit: int, environ: dict) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) >= limit:
            yield chunk[: limit - sent]
            drop_connection(environ)
            return
        sent += len(chunk)
        yield chunk
    # the whole body was shorter than the limit: nothing to cut


class App(Flask):
    """Flask, but it asks `inspect` whether a hook or view is a coroutine function once per function, not on
    every call (five calls a request; none is one, and the answer cannot change)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced


def make_vendor_app(core: Core, name: str, render_error: ErrorRenderer, max_body: int = MAX_BODY_BYTES) -> Flask:
    app = App(f"emulator.vendors.{name}")
    app.config["EMULATOR_CORE"] = core
    app.url_map.strict_slashes = False
    oversized = body_too_large(app, max_body)

    @app.before_request
    def _body_size() -> Response | None:
        # First: the HTTP layer refuses an oversized body before the API looks at the request.
        message = oversized()
        return render_error(413, message) if message else None

    @app.before_request
    def _faults() -> Response | None:
        core.store.begin_request()
        g.decision = Decision()
        req = request._get_current_object()  # see _journal
        header = req.headers.get(SCENARIO_HEADER, "")
        header_scenarios = tuple(s.strip() for s in header.split(",") if s.strip())
        try:
            rules = core.faults.rules_for(header_scenarios)
        except KeyError as exc:
            known = ", ".join(sorted(core.faults.library))
            return render_error(400, f"Unknown scenario {exc.args[0]!r} in {SCENARIO_HEADER}; known: {known}")
        if not rules:  # the default scenario: nothing to decide
            return None
        info = RequestInfo(name, req.method, req.path, req.args, header_scenarios)
        decision = g.decision = core.faults.decide(info, rules)
        if decision.delay_ms:
            time.sleep(decision.delay_ms / 1000)  # a real latency fault, by design
        if decision.drop:
            req.environ[DROP_FLAG] = True
            return Response(b"", status=500)
        if decision.status is not None:
            return forced_response(decision, render_error)
        return None

    @app.after_request
    def _journal(response: Response) -> Response:
        decision: Decision = g.get("decision") or Decision()
        # The request itself, not Flask's proxy: each attribute read through the proxy first fails on the
        # proxy, building an AttributeError message (15 reads a request: about 7% of a status request's
        # instructions, callgrind).
        req = request._get_current_object()
        for key, value in decision.headers.items():
            response.headers[key] = value
        if decision.truncate_after_bytes is not None and response.status_code < 400:
            response.response = _truncate(response.response, decision.truncate_after_bytes, req.environ)
            response.direct_passthrough = True
        # A refused body (over the limit) is never read: its size is all the journal would learn.
        body = req.get_data(cache=True) if req.content_length and req.content_length <= max_body else b""
        core.record(vendor=name, method=req.method, path=req.path, query=req.args.to_dict(),
                    headers=dict(req.headers), body=body, status=response.status_code, fault=decision.rule)
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        core.store.end_request()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = render_error(exc.code or 500, exc.description or exc.name)
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error in %s view", name)
        return render_error(500, "Internal error in the emulator (this is a bug: please report it)")

    return app


def forced_response(decision: Decision, render_error: ErrorRenderer) -> Response:
    """The answer a fault rule forces: a literal body if the rule gives one, else the vendor's error."""
    status = decision.status or 500
    if decision.body is not None:
        if isinstance(decision.body, (dict, list)):
            return Response(json.dumps(decision.body), status=status,
                            content_type=decision.content_type or "application/json")
        return Response(str(decision.body), status=status, content_type=decision.content_type or "text/plain")
    return render_error(status, decision.message or HTTP_STATUS_CODES.get(status, "Error"))


def core_of(app: Flask) -> Core:
    return app.config["EMULATOR_CORE"]
