"""An access token for conformance runs against a real APSIS One API, fetched once and refreshed before `exp`.

APSIS One API reference, "Authentication": POST /oauth/token (JSON client credentials) answers
{access_token, expires_in, token_type}; clients read the expiry from the JWT's `exp`; at most 10 token requests a minute, then 429. This client keeps
under that limit itself, waits out a 429 as its Retry-After says (up to a minute), and otherwise stops the run
with one line naming the cause.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import Any

REFRESH_MARGIN = 60  # seconds before exp that a token is replaced
LIMIT, PER = 10, 60.0  # token requests per minute (APSIS One API reference, "Limits")
MAX_RETRY_AFTER = 60.0  # a longer wait ends the run instead


def jwt_exp(token: str) -> float | None:
    """The `exp` claim of a JWT, read without checking the signature (the client only needs the expiry)."""
    try:
        payload = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class TokenSource:
    """Callable: the current token, fetched when there is none or it expires within REFRESH_MARGIN."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, *,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 opener: Callable[..., Any] | None = None):
        self.url = base_url.rstrip("/") + "/oauth/token"
        self.body = json.dumps({"grant_type": "client_credentials", "client_id": client_id,
                                "client_secret": client_secret}).encode()
        self.clock, self.sleep = clock, sleep
        self.open = opener or urllib.request.urlopen  # (request, timeout=) -> a response; tests pass a fake
        self.token: str | None = None
        self.expires = 0.0
        self.fetches: deque[float] = deque()  # times of the token requests of the last minute

    def __call__(self) -> str:
        if self.token is None or self.clock() >= self.expires - REFRESH_MARGIN:
            self.token, self.expires = self._fetch()
        return self.token

    def _fetch(self) -> tuple[str, float]:
        from ...conform import CredentialError

        for _ in range(3):
            self._keep_rate()
            self.fetches.append(self.clock())
            request = urllib.request.Request(self.url, data=self.body, method="POST", headers={
                "Content-Type": "application/json", "Accept": "application/json"})
            try:
                with self.open(request, timeout=30) as response:
                    answer = json.loads(response.read())
                token = answer["access_token"]
                return token, jwt_exp(token) or self.clock() + float(answer.get("expires_in", 3600))
            except urllib.error.HTTPError as exc:
                detail = " ".join(exc.read().decode("utf-8", "replace").split())[:200]
                if exc.code == 429:
                    wait = _retry_after(exc.headers.get("Retry-After"))
                    if wait is not None and wait <= MAX_RETRY_AFTER:
                        self.sleep(wait)
                        continue
                    retry = exc.headers.get("Retry-After") or "not given"
                    raise CredentialError(
                        f"APSIS token endpoint {self.url} answered 429 Too Many Requests (10 tokens a "
                        f"minute); Retry-After {retry}: try again later") from None
                raise CredentialError(
                    f"APSIS token endpoint {self.url} answered {exc.code}: {detail}") from None
            except (OSError, ValueError, KeyError) as exc:
                raise CredentialError(
                    f"APSIS token endpoint {self.url}: {type(exc).__name__}: {exc}") from None
        raise CredentialError(f"APSIS token endpoint {self.url} kept answering 429 Too Many Requests")

    def _keep_rate(self) -> None:
        while self.fetches and self.clock() - self.fetches[0] >= PER:
            self.fetches.popleft()
        if len(self.fetches) >= LIMIT:
            self.sleep(PER - (self.clock() - self.fetches[0]))
            self.fetches.popleft()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
