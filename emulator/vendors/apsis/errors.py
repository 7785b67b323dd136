"""APSIS One errors: RFC 7807 problem+json with title, status and detail (APSIS notes, "Handling errors")."""

from __future__ import annotations

import json

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES


def problem(status: int, detail: str, title: str | None = None) -> Response:
    body = {"title": title or HTTP_STATUS_CODES.get(status, "Error"), "status": status, "detail": detail}
    return Response(json.dumps(body), status=status, content_type="application/problem+json")
