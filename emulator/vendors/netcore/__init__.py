"""Netcore Email API (formerly Pepipost): summary stats, event logs, download logs; v5.1 and v6."""

from __future__ import annotations

from collections.abc import Mapping

from .routes import create_app  # noqa: F401

# Live contract runs against the real API (tests/contract): base URL first.
LIVE_ENV = ("NETCORE_BASE_URL", "NETCORE_API_KEY")


def _auth(key: str) -> dict[str, dict[str, str]]:
    # v5.1 reads `api_key`, v6 reads the Bearer header: send both (notes §2).
    return {"headers": {"api_key": key, "Authorization": f"Bearer {key}"}, "query": {}}


def contract_auth(core) -> dict[str, dict[str, str]]:
    return _auth(core.settings.netcore_api_key)


def live_auth(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return _auth(env["NETCORE_API_KEY"])
