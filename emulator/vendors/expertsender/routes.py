"""ExpertSender route table."""

from __future__ import annotations

from flask import Flask

from ...core import Core
from ..base import make_vendor_app
from .errors import api_error


def create_app(core: Core) -> Flask:
    app = make_vendor_app(core, "expertsender", api_error)
    return app
