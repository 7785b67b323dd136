"""APSIS One: OAuth token, lookups, email event export (gzip CSV) and profile event export (JSON)."""

from .routes import create_app  # noqa: F401
