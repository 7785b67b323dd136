"""APSIS One: OAuth token, lookups, email event export (gzip CSV) and profile event export (JSON)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping

from .routes import create_app  # noqa: F401

# Live contract runs against the real API (tests/contract): base URL first.
LIVE_ENV = ("APSIS_BASE_URL", "APSIS_CLIENT_ID", "APSIS_CLIENT_SECRET")


def contract_auth(core) -> dict[str, dict[str, str]]:
    """Valid credentials for in-process contract runs: a token minted on the virtual clock."""
    from .auth import mint_token

    token, _ = mint_token(core)
    return {"headers": {"Authorization": f"Bearer {token}"}, "query": {}}


def live_auth(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """A real access token from POST /oauth/token of the live API."""
    body = json.dumps(
        {
            "grant_type": "client_credentials",
            "client_id": env["APSIS_CLIENT_ID"],
            "client_secret": env["APSIS_CLIENT_SECRET"],
        }
    ).encode()
    req = urllib.request.Request(
        env["APSIS_BASE_URL"].rstrip("/") + "/oauth/token",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        token = json.loads(resp.read())["access_token"]
    return {"headers": {"Authorization": f"Bearer {token}"}, "query": {}}
