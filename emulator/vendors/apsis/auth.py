"""OAuth client credentials, JWT access tokens and the bearer check, all on the virtual clock.

APSIS One API reference, "Authentication": POST /oauth/token with JSON {grant_type, client_id,
client_secret} answers {access_token, expires_in: 86400, token_type: "Bearer"}; the token is a JWT whose
`exp` clients read; 10 token requests per minute, then 429. Invalid or expired tokens: 401 problem+json (APSIS help centre,
"Handling errors"), or with the scenario option `apsis.auth_failure_status: 403` the gateway's 403
{"message": ...} (APSIS help centre, "Authentication").
"""

from __future__ import annotations

import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

import jwt
from flask import Response

from ...core import Core
from .errors import Problem, gateway_deny, problem

TOKEN_LIFETIME = 86_400  # seconds; "expires_in": 86400 (APSIS One API reference, "Authentication")
TOKEN_LIMIT_PER_MINUTE = 10  # APSIS One API reference, "Limits"; the default of settings.apsis_token_limit
ISSUER = "https://api.apsis.one"


def _key(core: Core, purpose: str) -> bytes:
    # Emulator assumption: HS256 with a key derived from seed and secret (the real tokens are RS-signed).
    s = core.settings
    return _derived_key(purpose, s.seed, s.apsis_client_secret)


@lru_cache(maxsize=64)
def _derived_key(purpose: str, seed: int, secret: str) -> bytes:
    return hashlib.sha256(f"apsis-one-emulator:{purpose}:{seed}:{secret}".encode()).digest()


def mint_token(core: Core) -> tuple[str, int]:
    """A fresh access token and its expiry (epoch seconds, virtual clock)."""
    now = int(core.clock.now())
    n = core.store.incr("apsis:tokens")
    claims = {
        "iss": ISSUER,
        "sub": core.settings.apsis_client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "jti": f"{core.settings.seed}-{n}",
    }
    return jwt.encode(claims, _key(core, "jwt"), algorithm="HS256"), now + TOKEN_LIFETIME


def token_view(core: Core, body: dict) -> Response:
    """POST /oauth/token, its body already checked against the contract."""
    limit = core.settings.apsis_token_limit  # TOKEN_LIMIT_PER_MINUTE unless configured (0: none)
    window = int(core.clock.now() // 60)
    if limit and core.store.incr(f"apsis:token-rate:{window}") > limit:
        raise Problem(
            429,
            f"Rate limit exceeded: the token endpoint allows {limit} requests per minute; "
            "retry with exponential back-off.",
        )
    s = core.settings
    good_id = hmac.compare_digest(str(body["client_id"]).encode(), s.apsis_client_id.encode())
    good_secret = hmac.compare_digest(str(body["client_secret"]).encode(), s.apsis_client_secret.encode())
    if not (good_id and good_secret):
        raise Problem(401, "Invalid client credentials: client_id or client_secret is wrong.")
    token, _ = mint_token(core)
    payload = {"access_token": token, "expires_in": TOKEN_LIFETIME, "token_type": "Bearer"}
    return Response(json.dumps(payload), status=200, content_type="application/json")


def check_bearer(core: Core, environ: dict[str, Any]) -> Response | None:
    """None when the request (its WSGI environ) carries a valid, unexpired token; else the configured auth
    failure."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return auth_failure(
            core, "Missing Authorization header: send 'Authorization: Bearer <access_token>'."
        )
    if scheme.lower() != "bearer" or not token.strip():
        return auth_failure(core, "Malformed Authorization header: expected 'Bearer <access_token>'.")
    try:
        claims = _claims(token.strip(), _key(core, "jwt"))
    except jwt.PyJWTError:
        return auth_failure(core, "Invalid access token.")
    if claims.get("sub") != core.settings.apsis_client_id:
        return auth_failure(core, "Invalid access token.")
    if not isinstance(claims.get("exp"), (int, float)) or core.clock.now() >= claims["exp"]:
        return auth_failure(core, "The access token has expired: request a new one at POST /oauth/token.")
    return None


_VERIFIED: dict[tuple[str, bytes], dict] = {}


def _claims(token: str, key: bytes) -> dict:
    """The claims of a token whose signature checks out. A token string verifies the same way every time,
    so it is checked once (PyJWT's check is a third of a status request); exp is checked by the caller
    against the virtual clock, never the wall clock."""
    claims = _VERIFIED.get((token, key))
    if claims is None:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={
            "verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["exp", "sub"]})
        if len(_VERIFIED) >= 1024:
            _VERIFIED.clear()
        _VERIFIED[token, key] = claims
    return claims


def auth_failure(core: Core, detail: str) -> Response:
    if int(core.faults.option("apsis.auth_failure_status", 401)) == 403:
        return gateway_deny()
    response = problem(401, detail)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def sign_download(core: Core, report_id: str, expires: int) -> str:
    """HMAC over (report, expiry): the credentials of a file_download_url or an x-apsis-auth header."""
    msg = f"{report_id}:{expires}".encode()
    return hmac.new(_key(core, "download"), msg, hashlib.sha256).hexdigest()[:40]


def valid_download(core: Core, report_id: str, expires: int, signature: str) -> bool:
    return hmac.compare_digest(sign_download(core, report_id, expires).encode(), signature.encode())
