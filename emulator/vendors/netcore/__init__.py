"""Netcore Email API (formerly Pepipost): summary stats, event logs, download logs; v5.1 and v6."""

from __future__ import annotations

from collections.abc import Mapping

from .routes import create_app  # noqa: F401

# Live contract runs against the real API (tests/contract): base URL first.
LIVE_ENV = ("NETCORE_BASE_URL", "NETCORE_API_KEY")


def _auth(key: str) -> dict[str, str]:
    # By security scheme: v5.1 operations read the `api_key` header, v6 ones the Bearer header (the
    # Pepipost SDKs).
    return {"apiKey": key, "bearer": key}


def contract_auth(core) -> dict[str, str]:
    return _auth(core.settings.netcore_api_key)


def live_auth(env: Mapping[str, str]) -> dict[str, str]:
    return _auth(env["NETCORE_API_KEY"])
