"""The dashboard at /_emulator/ui: one static HTML page plus dashboard.js and dashboard.css (static/).

The routes sit on the control blueprint, so the control API's access rule (`_guard`) covers the page and
its assets too; beyond loopback they (only they) also take the token as `?token=`, which the page hands
on to its assets, and the script sends on to the JSON calls as X-Emulator-Token. No build step: the script
polls the JSON control API with fetch() and renders every value with textContent. The "Connect a client"
panel (base URLs and credentials) is filled in here, escaped, as the server's settings do not change.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from urllib.parse import quote

from flask import Response, abort, current_app, request, url_for

from .. import sessions
from ..settings import VENDORS
from ..vendors import VENDOR_APPS
from . import bp

ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page URL may carry ?token=
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@cache
def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


@bp.get("/ui")
def ui() -> Response:
    token = request.args.get("token", "")
    suffix = "?token=" + quote(token, safe="") if token else ""
    values = {
        "css_url": url_for("control.ui_asset", name="dashboard.css") + suffix,
        "js_url": url_for("control.ui_asset", name="dashboard.js") + suffix,
        "api_base": url_for("control.ui").rsplit("/", 1)[0],
        "root_path": request.environ.get(sessions.ROOT_KEY, request.script_root),
        "session_name": sessions.public_name(sessions.current_name()),
        **_connect(),
    }
    page = _static("dashboard.html")
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value, quote=True))
    return Response(page, content_type="text/html; charset=utf-8", headers={**HEADERS, "Content-Security-Policy": CSP})


def _connect() -> dict[str, str]:
    """What a user needs next to point a client at this server: each vendor's base URL as this request
    reached it (so behind a port mapping too) and the credentials the server accepts."""
    settings = current_app.config["EMULATOR_CORE"].settings
    root = request.url_root.rstrip("/")  # with the session's prefix
    values = {f"{name}_url": root + VENDOR_APPS[name][1] for name in VENDORS}
    values.update(
        apsis_client_id=settings.apsis_client_id,
        apsis_client_secret=settings.apsis_client_secret,
        expertsender_api_key=settings.expertsender_api_key,
        netcore_api_key=settings.netcore_api_key,
        control_url=request.host_url.rstrip("/") + url_for("control.ui").rsplit("/", 1)[0] + "/",
        control_credentials=("none (the server listens on loopback only)" if settings.loopback_only
                             else "header X-Emulator-Token: the value of EMULATOR_CONTROL_TOKEN"),
        vendor_ports="",
    )
    if settings.vendor_ports:
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        values["vendor_ports"] = "Each vendor is also served at the root of its own port: " + ", ".join(
            f"{name} http://{host}:{settings.vendor_port(name)}" for name in VENDORS) + "."
    return values


@bp.get("/ui/<name>")
def ui_asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    return Response(_static(name), content_type=ASSETS[name], headers=HEADERS)
