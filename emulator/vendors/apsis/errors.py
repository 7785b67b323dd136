"""APSIS One errors: RFC 7807 problem+json with title, status and detail (APSIS help centre, "Handling
errors")."""

from __future__ import annotations

import json

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES

# The API gateway's body for an invalid or expired token (APSIS help centre, "Authentication"); not
# problem+json.
EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"


def problem(status: int, detail: str, title: str | None = None) -> Response:
    body = {"title": title or HTTP_STATUS_CODES.get(status, "Error"), "status": status, "detail": detail}
    return Response(json.dumps(body), status=status, content_type="application/problem+json")


def gateway_deny() -> Response:
    return Response(json.dumps({"message": EXPLICIT_DENY}), status=403, content_type="application/json")


class Problem(Exception):
    """Raised by a view to answer with problem+json; the app's error handler renders it."""

    def __init__(self, status: int, detail: str, title: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.title = status, detail, title

    def response(self) -> Response:
        return problem(self.status, self.detail, self.title)
