"""create_app(settings) -> Flask: the control API at the root, each vendor under its path prefix.

Each vendor is a Flask app of its own (its own error format for 404 and 405), mounted under its prefix
(`Mounts`, as Werkzeug's DispatcherMiddleware mounts apps), so `url_for(..., _external=True)` in a vendor yields URLs under its prefix on the
main port and at the root on the vendor's own port (--vendor-ports). Outside all, SessionMiddleware takes a
`/sessions/<name>` prefix off the path (into SCRIPT_NAME, so built URLs keep it; emulator.sessions).
"""

from __future__ import annotations

import gc
import json
from typing import Any

from flask import Flask, Response, request
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException

from . import __version__
from .control import bp as control_bp
from .control import problem
from .core import Core, build_core
from .http_date import VirtualDate, patch_gunicorn
from .sessions import ERROR_KEY as SESSION_ERROR
from .sessions import SessionMiddleware
from .settings import VENDORS, Settings
from .vendors import VENDOR_APPS, vendor_module
from .vendors.base import MAX_BODY_BYTES, App, DropMiddleware, body_too_large


def tune_gc() -> None:
    """The serving process's garbage collector, set once before the server forks its workers.

    Everything loaded so far lives as long as the server: frozen, full collections skip it (and workers
    share its pages). Exports allocate hundreds of thousands of short-lived tuples: with a gen-0 threshold of
    20,000 instead of 700 the collector runs far less often. Not higher: Werkzeug's URL matcher leaves a
    reference cycle behind every request, and a collection's pause grows with the threshold, which small
    requests see in their tail latency (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


class Mounts:
    """Each vendor app under its one-segment path prefix (/apsis, ...), the control app elsewhere: Werkzeug's
    DispatcherMiddleware for one-segment prefixes, with one lookup a request instead of one a path segment.
    The prefix moves from PATH_INFO to SCRIPT_NAME, so the URLs a vendor app builds keep it."""

    def __init__(self, main, mounts: dict[str, Any]):
        if any(prefix.count("/") != 1 or not prefix.startswith("/") for prefix in mounts):
            raise ValueError("a mount's prefix is one path segment, such as /apsis")
        self.main = main
        self.mounts = mounts

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        end = path.find("/", 1)
        prefix = path if end < 0 else path[:end]
        app = self.mounts.get(prefix)
        if app is None:
            return self.main(environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
        environ["PATH_INFO"] = path[len(prefix):]
        return app(environ, start_response)


class PortDispatch:
    """Serves a vendor at the root path when the request arrived on that vendor's own port."""

    def __init__(self, main, by_port: dict[str, Any]):
        self.main = main
        self.by_port = by_port

    def __call__(self, environ, start_response):
        app = self.by_port.get(str(environ.get("SERVER_PORT")))
        return (app or self.main)(environ, start_response)


class InProcessClient(FlaskClient):
    """`app.test_client()` without a cookie jar. The emulator reads no cookie, and ExpertSender's
    `Set-Cookie: TIMEZONE=Central European Standard Time; path=/` (as in ExpertSender API v2: Get subscriber
    activity, unquoted spaces) is fine for browsers and http.cookiejar (requests) but werkzeug's jar cannot
    parse it (pallets/werkzeug#1060)."""

    def __init__(self, *args: Any, use_cookies: bool = False, **kwargs: Any):
        super().__init__(*args, use_cookies=False, **kwargs)


def create_app(settings: Settings | None = None, core: Core | None = None) -> Flask:
    settings = settings or Settings()
    core = core or build_core(settings)
    settings = core.settings
    app = App("emulator")
    app.test_client_class = InProcessClient
    app.config["EMULATOR_CORE"] = core
    app.url_map.strict_slashes = False
    app.register_blueprint(control_bp)
    vendor_apps = {name: vendor_module(name).create_app(core) for name in VENDORS}
    app.extensions["emulator.vendors"] = vendor_apps
    oversized = body_too_large(app, MAX_BODY_BYTES)

    @app.before_request
    def _body_size() -> Response | None:
        refused = request.environ.get(SESSION_ERROR)
        if refused:
            return problem(refused[0], refused[2])
        message = oversized(request.environ)
        return problem(413, message) if message else None

    @app.get("/")
    def index() -> Response:
        base = request.url_root.rstrip("/")  # with a session's prefix
        return Response(json.dumps({
            "name": "email-events-emulator", "version": __version__,
            "vendors": {n: base + VENDOR_APPS[n][1] for n in VENDORS}, "control": base + "/_emulator/",
        }), content_type="application/json")

    @app.errorhandler(HTTPException)
    def _json_error(exc: HTTPException) -> Response:
        response = Response(json.dumps({"status": exc.code, "error": exc.description}), status=exc.code,
                            content_type="application/json")
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    mounted = Mounts(app.wsgi_app, {VENDOR_APPS[n][1]: vendor_apps[n] for n in VENDORS})
    wsgi = mounted
    if settings.vendor_ports:
        wsgi = PortDispatch(mounted, {str(settings.vendor_port(n)): vendor_apps[n] for n in VENDORS})
    app.wsgi_app = SessionMiddleware(VirtualDate(DropMiddleware(wsgi), core.clock), core)
    patch_gunicorn()
    return app


def base_urls(settings: Settings, host: str | None = None) -> dict[str, str]:
    """The base URL of each vendor (and the control API), as printed at start."""
    host = host or ("127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host)
    main = f"http://{host}:{settings.port}"
    urls = {n: main + VENDOR_APPS[n][1] for n in VENDORS}
    if settings.vendor_ports:
        urls.update({f"{n} (own port)": f"http://{host}:{settings.vendor_port(n)}" for n in VENDORS})
    urls["control"] = main + "/_emulator/"
    return urls
