"""ExpertSender API v2: Activities CSV and the companion XML endpoints."""

from .routes import create_app  # noqa: F401
