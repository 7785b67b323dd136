"""APSIS One route table: the token, the lookups and the two exports, behind the bearer check."""

from __future__ import annotations

from flask import Flask, Request, Response

from ...contracts import contract
from ...core import Core
from ..base import make_vendor_app
from .auth import check_bearer, token_view
from .checks import CONTRACT_FILE, MAX_BODY_BYTES, checked
from .errors import Problem, problem
from .views import email_export, lookups, profile_export

# Endpoints without the bearer token: the token itself, and the file whose URL carries its credentials.
PUBLIC = {"token", "email_export.download"}


def create_app(core: Core) -> Flask:
    contract(CONTRACT_FILE)  # a broken contract fails at start, not on the first request
    def guard(req: Request) -> Response | None:
        if req.endpoint in PUBLIC or req.endpoint is None:
            return None  # unknown paths fall through to the 404/405 in problem+json
        return check_bearer(core, req.environ)

    # APSIS One API reference, "Limits": bodies over 100 kB get 413
    app = make_vendor_app(core, "apsis", problem, MAX_BODY_BYTES, guard)

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return exc.response()

    @app.post("/oauth/token", endpoint="token")
    def token() -> Response:
        return token_view(core, checked("POST", "/oauth/token")["__body__"])

    app.register_blueprint(lookups.bp)
    app.register_blueprint(email_export.bp)
    app.register_blueprint(profile_export.bp)
    return app
