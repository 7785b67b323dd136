"""Netcore errors: one JSON envelope {status, message, error: [{field, message}]} (an emulator convention,
see the contract's x-emulator-assumption)."""

from __future__ import annotations

import json

from flask import Response


def envelope_error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    body = {"status": "error", "message": message, "error": errors or [{"message": message, "field": ""}]}
    return Response(json.dumps(body), status=status, content_type="application/json")
