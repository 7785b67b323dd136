"""Netcore route table: v5, v5.1 and v6 stats and logs, and Download Logs, behind the key checks."""

from __future__ import annotations

from flask import Flask, Request, Response

from ...contracts import contract
from ...core import Core
from ..base import make_vendor_app
from . import download, views
from .auth import check_v6, check_v51
from .checks import CONTRACT_FILE
from .errors import NetcoreError, envelope_error

PUBLIC = {"netcore_download.file"}  # the signed download URL carries its own credentials
V5_PREFIXES = ("/v5/", "/v5.1/")  # the api_key header (the Pepipost SDKs)


def create_app(core: Core) -> Flask:
    contract(CONTRACT_FILE)  # a broken contract fails at start, not on the first request
    def guard(req: Request) -> Response | None:
        if req.endpoint is None or req.endpoint in PUBLIC:
            return None  # unknown paths fall through to the 404/405 envelope
        try:
            (check_v51 if req.path.startswith(V5_PREFIXES) else check_v6)(core)
        except NetcoreError as exc:
            return exc.response()
        return None

    app = make_vendor_app(core, "netcore", envelope_error, guard=guard)

    @app.errorhandler(NetcoreError)
    def _error(exc: NetcoreError) -> Response:
        return exc.response()

    app.register_blueprint(views.bp)
    app.register_blueprint(download.bp)
    return app
