"""ExpertSender route table. Every path is served with and without the /v2 prefix (a public Ruby client
calls /Api/Activities)."""

from __future__ import annotations

from flask import Flask, Response

from ...core import Core
from ..base import make_vendor_app
from . import reports, views
from .errors import api_error
from .params import BadRequest
from .timezone import timezone_cookie

ROUTES = (
    ("/Api/Activities", views.activities),
    ("/Api/Activities/<message_id>", views.activities),
    ("/Api/Time", views.server_time),
    ("/Api/Lists", views.lists),
    ("/Api/Lists/<list_id>", views.one_list),
    ("/Api/Messages", views.messages),
    ("/Api/Messages/<message_id>", views.one_message),
    ("/Api/MessageStatistics/<message_id>", views.message_statistics),
    ("/Api/Bounces", views.bounces),
    ("/Api/SummaryStatistics", reports.summary_statistics),
    ("/Api/RemovedSubscribers", reports.removed_subscribers),
    ("/Api/Segments", reports.segments),
)


def create_app(core: Core) -> Flask:
    app = make_vendor_app(core, "expertsender", api_error)
    for path, view in ROUTES:
        for prefix in ("/v2", ""):
            app.add_url_rule(prefix + path, f"{view.__name__}{prefix}{path.count('<')}", view, methods=["GET"])

    cookie = timezone_cookie(core.settings.expertsender_timezone)

    @app.after_request
    def _timezone(response: Response) -> Response:
        # Every response example of ExpertSender API v2: Get subscriber activity (all 200s) carries the
        # business unit's zone; errors are sent without it (no error example shows their headers: contract assumption).
        if response.status_code < 300:
            response.headers["Set-Cookie"] = cookie
        return response

    @app.errorhandler(BadRequest)
    def _bad_request(exc: BadRequest) -> Response:
        return api_error(exc.status, str(exc))

    return app
