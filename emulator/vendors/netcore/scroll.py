"""Scroll ids: the query plus the last position seen, signed, so following them is stateless and works on
every worker. "Fetch Event Logs": scroll-based pagination (`scrollid` in v5.1, `scrollId` in v6).

A scroll id expires `netcore_scroll_ttl` virtual seconds after it was issued (the scenario option
`netcore.scroll_ttl` overrides it; 0 makes every scroll id expired when followed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from ...core import Core
from .errors import invalid
from .query import Position, Query


@dataclass(frozen=True)
class Scroll:
    version: str
    query: Query
    limit: int
    until_ms: int | None  # the snapshot: rows of events before this virtual time (the first page's now)
    position: Position | None  # last (sent time, event time, seq) returned


def _key(core: Core) -> bytes:
    return hashlib.sha256(f"netcore-scroll:{core.settings.seed}:{core.settings.netcore_api_key}".encode()).digest()


def ttl(core: Core) -> float:
    return float(core.faults.option("netcore.scroll_ttl", core.settings.netcore_scroll_ttl))


def encode(core: Core, scroll: Scroll) -> str:
    payload = {"v": scroll.version, "q": scroll.query.to_dict(), "l": scroll.limit, "u": scroll.until_ms,
               "p": list(scroll.position) if scroll.position else None, "x": core.clock.now() + ttl(core)}
    raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return raw + "." + hmac.new(_key(core), raw.encode(), hashlib.sha256).hexdigest()[:32]


def decode(core: Core, token: str, version: str, field: str) -> Scroll:
    raw, _, signature = token.partition(".")
    good = hmac.new(_key(core), raw.encode(), hashlib.sha256).hexdigest()[:32]
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters.
    if not signature or not hmac.compare_digest(signature.encode(), good.encode()):
        raise invalid(field, "is not a scroll id this API issued")
    try:
        payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        raise invalid(field, "is not a scroll id this API issued") from None
    if payload.get("v") != version:
        raise invalid(field, f"was issued by the v{payload.get('v')} API, not v{version}")
    if core.clock.now() >= payload["x"]:
        raise invalid(field, "has expired: start again without a scroll id")
    position = tuple(payload["p"]) if payload.get("p") else None
    return Scroll(version, Query.from_dict(payload["q"]), int(payload["l"]), payload.get("u"), position)
