"""APSIS One route table."""

from __future__ import annotations

from flask import Flask

from ...core import Core
from ..base import make_vendor_app
from .errors import problem


def create_app(core: Core) -> Flask:
    app = make_vendor_app(core, "apsis", problem)
    return app
