"""Credentials: v5 and v5.1 send the key in an `api_key` header (underscore, the Pepipost SDKs), v6 sends
`Authorization: Bearer <key>` ("Fetch Logs" (v6)) and may name a sub-account in a header whose real
name was not found (emulator choice: `subaccount`)."""

from __future__ import annotations

import hmac

from flask import request

from ...core import Core
from .errors import NetcoreError

SUBACCOUNT_HEADER = "subaccount"


def _same(given: str, key: str) -> bool:
    return hmac.compare_digest(given.encode(), key.encode())


def check_v51(core: Core) -> None:
    given = request.headers.get("api_key")
    if given is None:
        raise NetcoreError(401, "Unauthorized: the api_key header is missing",
                           [{"field": "api_key", "message": "is required"}])
    if not _same(given, core.settings.netcore_api_key):
        raise NetcoreError(401, "Unauthorized: the api_key is not valid",
                           [{"field": "api_key", "message": "is not a valid API key"}])


def check_v6(core: Core) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NetcoreError(401, "Unauthorized: send Authorization: Bearer <Email API key>",
                           [{"field": "Authorization", "message": "a Bearer API key is required"}])
    if not _same(token.strip(), core.settings.netcore_api_key):
        raise NetcoreError(401, "Unauthorized: the API key is not valid",
                           [{"field": "Authorization", "message": "is not a valid API key"}])
    sub = request.headers.get(SUBACCOUNT_HEADER)
    if sub is not None and sub not in core.settings.netcore_subaccounts:
        raise NetcoreError(403, f"Forbidden: {sub!r} is not a sub-account of this account",
                           [{"field": SUBACCOUNT_HEADER, "message": "is not a sub-account of this account"}])
