"""ExpertSender API v2: Activities CSV and the companion XML endpoints."""

from __future__ import annotations

from collections.abc import Mapping

from .routes import create_app  # noqa: F401

LIVE_ENV = ("EXPERTSENDER_BASE_URL", "EXPERTSENDER_API_KEY")


def contract_auth(core) -> dict[str, str]:
    """Credentials by security scheme (the contract's apiKey: the `apiKey` query parameter)."""
    return {"apiKey": core.settings.expertsender_api_key}


def live_auth(env: Mapping[str, str]) -> dict[str, str]:
    return {"apiKey": env["EXPERTSENDER_API_KEY"]}
