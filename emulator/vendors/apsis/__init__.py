"""APSIS One: OAuth token, lookups, email event export (gzip CSV) and profile event export (JSON)."""

from __future__ import annotations

from collections.abc import Mapping

from .routes import create_app  # noqa: F401

# Live contract runs against the real API (tests/contract): base URL first.
LIVE_ENV = ("APSIS_BASE_URL", "APSIS_CLIENT_ID", "APSIS_CLIENT_SECRET")


def contract_auth(core) -> dict:
    """Credentials for in-process contract runs, by security scheme: a token minted on the virtual clock
    (minted again when it expires there), and the client credentials the token endpoint's body carries."""
    from .auth import mint_token

    token: dict = {}

    def bearer() -> str:
        if not token or core.clock.now() >= token["exp"] - 60:
            token["value"], token["exp"] = mint_token(core)
        return token["value"]

    s = core.settings
    return {"bearer": bearer, "client_id": s.apsis_client_id, "client_secret": s.apsis_client_secret}


def live_auth(env: Mapping[str, str]) -> dict:
    """Credentials for a real API: a token from its POST /oauth/token, refreshed before `exp`."""
    from .live_token import TokenSource

    source = TokenSource(env["APSIS_BASE_URL"], env["APSIS_CLIENT_ID"], env["APSIS_CLIENT_SECRET"])
    return {"bearer": source, "client_id": env["APSIS_CLIENT_ID"], "client_secret": env["APSIS_CLIENT_SECRET"]}
