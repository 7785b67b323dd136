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

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.sansio.utils import get_content_length

from ..core import Core
from ..faults import SCENARIO_HEADER, Decision, RequestInfo, header_scenarios
from ..http_date import NOW_KEY
from ..sessions import ERROR_KEY as SESSION_ERROR

log = logging.getLogger("emulator")

# render_error(status, message, headers) -> a Response in the vendor's error format
ErrorRenderer = Callable[[int, str], Response]

DROP_FLAG = "emulator.drop"
DECISION_KEY = "emulator.decision"  # what the fault rules decided for the request (fault_decision)
NO_DECISION = Decision()  # no rule applied: shared by every such request, never changed
TRUNCATE_FLAG = "emulator.truncate"  # bytes of the body to send before the connection closes
# Request bodies larger than this are refused with 413 before they are read (an emulator choice where a vendor
# documents no limit: the contracts' largest valid body is a few kB).
MAX_BODY_BYTES = 1024 * 1024


def body_too_large(app: Flask, limit: int) -> Callable[[dict], str | None]:
    """Refuse a body over `limit` bytes without reading it whole: one that announces its length by its
    Content-Length, before anything reads it; a chunked one by reading at most `limit` + 1 bytes of it (kept
    for the view when it fits). Werkzeug's MAX_CONTENT_LENGTH alone would cut a chunked body at the limit
    and hand the view its first part. The check takes the request's WSGI environ and answers the refusal's
    message, or None."""
    app.config["MAX_CONTENT_LENGTH"] = limit
    message = f"The request body exceeds the limit of {limit // 1024} kB."

    def check(environ: dict) -> str | None:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked:  # its length, as Werkzeug reads it (Request.content_length)
            length = get_content_length(environ.get("CONTENT_LENGTH"), None)
            return message if length is not None and length > limit else None
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


def _in_process(environ: dict) -> bool:
    """No server: a WSGI server names itself in SERVER_SOFTWARE (a CGI variable), the test client does not."""
    return "SERVER_SOFTWARE" not in environ


def drop_connection(environ: dict) -> None:
    """Close the client connection now: gunicorn hands the app its socket; in-process, raise
    ConnectionDropped. (Other servers: see DropMiddleware.)"""
    environ[DROP_FLAG] = True
    sock = environ.get("gunicorn.socket")
    if sock is None:
        raise ConnectionDropped("the emulator dropped the connection (fault rule)")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class DropMiddleware:
    """Honours the connection faults a request was given: a drop (no answer, the connection closes) and a
    truncation (the first N bytes of the body, then the connection closes).

    Under gunicorn the socket is shut down. A server that does not hand the app its socket (granian) is made
    to close the connection by a body shorter than the Content-Length it was given: no HTTP/1.1 server can
    keep such a connection, and no client can take the short body for a whole one. A drop there sends the
    status line and headers of a 200 whose body never comes.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        held: list = []

        def start(status, headers, exc_info=None):
            if DROP_FLAG in environ or TRUNCATE_FLAG in environ:  # the app has answered: its faults are known
                held[:] = (status, headers, exc_info)
                return _no_write
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        if not held:
            if DROP_FLAG not in environ and TRUNCATE_FLAG not in environ:
                return body  # no connection fault: answered as it is
            held[:] = ("500 INTERNAL SERVER ERROR", [], None)  # start_response at the first chunk: not Flask's way
        status, headers, exc_info = held
        if environ.get(DROP_FLAG):
            _close(body)
            if "gunicorn.socket" in environ or _in_process(environ):
                drop_connection(environ)
                return []
            start_response("200 OK", [("Content-Length", "1")])
            return iter(())
        limit = environ.get(TRUNCATE_FLAG)
        if limit is None:
            start_response(status, headers, exc_info)
            return body
        if "gunicorn.socket" in environ or _in_process(environ):
            start_response(status, headers, exc_info)
            return _truncate(body, limit, environ)
        return _short_body(body, limit, status, headers, start_response)


def _no_write(_data: bytes) -> None:
    raise RuntimeError("the emulator's apps do not use WSGI's write()")


def _close(body) -> None:
    if hasattr(body, "close"):
        body.close()


def _truncate(chunks: Iterable[bytes], limit: int, environ: dict) -> Iterator[bytes]:
    sent = 0
    try:
        for chunk in chunks:
            if sent + len(chunk) >= limit:
                yield chunk[: limit - sent]
                drop_connection(environ)
                return
            sent += len(chunk)
            yield chunk
        # the whole body was shorter than the limit: nothing to cut
    finally:
        _close(chunks)


def _short_body(body, limit: int, status: str, headers: list, start_response) -> Iterable[bytes]:
    """The first `limit` bytes of `body` under a Content-Length larger than that (see DropMiddleware); the
    whole body if it is not longer than `limit`."""
    chunks, size = [], 0
    iterator = iter(body)
    for chunk in iterator:
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    else:
        start_response(status, headers)
        _close(body)
        return chunks
    _close(body)
    declared = next((int(v) for k, v in headers if k.lower() == "content-length"), size)
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
    start_response(status, [*headers, ("Content-Length", str(max(declared, limit + 1)))])
    return _then_pause(b"".join(chunks)[:limit])


# How long the cut body is left to reach the client before the response ends: a server may close the
# connection as soon as it sees the body end short, before it has sent what it was given.
TRUNCATE_FLUSH_S = 0.2


def _then_pause(data: bytes) -> Iterator[bytes]:
    yield data
    time.sleep(TRUNCATE_FLUSH_S)


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


def make_vendor_app(core: Core, name: str, render_error: ErrorRenderer, max_body: int = MAX_BODY_BYTES,
                    guard: Callable[[Request], Response | None] | None = None) -> Flask:
    """The vendor's Flask app with the shared hooks; `guard(request)`, the vendor's credential check, runs
    after the fault rules (a forced answer comes first) and answers a refusal, or None."""
    app = App(f"emulator.vendors.{name}")
    app.config["EMULATOR_CORE"] = core
    app.url_map.strict_slashes = False
    oversized = body_too_large(app, max_body)

    @app.before_request
    def _before() -> Response | None:
        environ = request.environ
        refused = environ.get(SESSION_ERROR)  # a bad session name: no such resource here
        if refused:
            return render_error(refused[1], refused[2])
        # First: the HTTP layer refuses an oversized body before the API looks at the request.
        message = oversized(environ)
        if message:
            return render_error(413, message)
        # Then the fault rules, on one view of the shared state for the whole request.
        core.store.begin_request()
        named = header_scenarios(environ)
        try:
            rules = core.faults.rules_for(named)
        except KeyError as exc:
            known = ", ".join(sorted(core.faults.library))
            return render_error(400, f"Unknown scenario {exc.args[0]!r} in {SCENARIO_HEADER}; known: {known}")
        req = request._get_current_object()  # see _journal
        if rules:
            forced = _apply_faults(req, RequestInfo(name, req.method, req.path, req.args, named), rules)
            if forced is not None:
                return forced
        return guard(req) if guard is not None else None

    def _apply_faults(req: Request, info: RequestInfo, rules: list) -> Response | None:
        environ = req.environ
        decision = environ[DECISION_KEY] = core.faults.decide(info, rules)
        if decision.delay_ms:
            time.sleep(decision.delay_ms / 1000)  # a real latency fault, by design
        if decision.drop:
            environ[DROP_FLAG] = True
            return Response(b"", status=500)
        if decision.status is not None:
            return forced_response(decision, render_error)
        return None

    @app.after_request
    def _journal(response: Response) -> Response:
        # The request itself, not Flask's proxy: each attribute read through the proxy first fails on the
        # proxy, building an AttributeError message (docs/performance.md).
        req = request._get_current_object()
        environ = req.environ
        decision: Decision = environ.get(DECISION_KEY, NO_DECISION)
        if decision is not NO_DECISION:
            for key, value in decision.headers.items():
                response.headers[key] = value
            if decision.truncate_after_bytes is not None and response.status_code < 400:
                environ[TRUNCATE_FLAG] = decision.truncate_after_bytes
        # A refused body (over the limit) is never read: its size is all the journal would learn.
        length = req.content_length
        body = req.get_data(cache=True) if length and length <= max_body else b""
        query = req.args.items(multi=True) if environ.get("QUERY_STRING") else ()
        environ[NOW_KEY] = core.record(vendor=name, method=req.method, path=req.path, query=query,
                                       environ=environ, body=body, status=response.status_code,
                                       fault=decision.rule)
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


def fault_decision() -> Decision:
    """What the fault rules decided for the current request (read it, never change it)."""
    return request.environ.get(DECISION_KEY, NO_DECISION)


def core_of(app: Flask) -> Core:
    return app.config["EMULATOR_CORE"]
