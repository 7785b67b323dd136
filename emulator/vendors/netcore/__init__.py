"""Netcore Email API (formerly Pepipost): summary stats, event logs, download logs; v5.1 and v6."""

from .routes import create_app  # noqa: F401
