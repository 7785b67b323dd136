"""Netcore errors: one JSON envelope {status, message, error: [{field, message}]} (an emulator convention,
see the contract's x-emulator-assumption; the Pepipost SDKs show no error body for stats/events)."""

from __future__ import annotations

import json

from flask import Response


def envelope_error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    body = {"status": "error", "message": message, "error": errors or [{"message": message, "field": ""}]}
    return Response(json.dumps(body), status=status, content_type="application/json")


class NetcoreError(Exception):
    """Raised by checks and views; the app renders it as the envelope."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def response(self) -> Response:
        return envelope_error(self.status, self.message, self.errors)


def invalid(field: str, rule: str) -> NetcoreError:
    """400 naming the field and the rule it breaks."""
    return NetcoreError(400, f"Invalid value for {field}: {rule}", [{"field": field, "message": rule}])
