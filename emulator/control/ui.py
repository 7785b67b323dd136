"""The dashboard at /_emulator/ui: one static HTML page plus dashboard.js and dashboard.css (static/).

The routes sit on the control blueprint, so the control API's access rule (`_guard`) covers the page and
its assets too; beyond loopback they (only they) also take the token as `?token=`, which the page hands
on to its assets, and the script sends on to the JSON calls as X-Emulator-Token. No build step: the script
polls the JSON control API with fetch() and renders every value with textContent.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from urllib.parse import quote

from flask import Response, abort, request, url_for

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
    }
    page = _static("dashboard.html")
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value, quote=True))
    return Response(page, content_type="text/html; charset=utf-8", headers={**HEADERS, "Content-Security-Policy": CSP})


@bp.get("/ui/<name>")
def ui_asset(name: str) -> Response:
    if name not in ASSETS:
        abort(404)
    return Response(_static(name), content_type=ASSETS[name], headers=HEADERS)
