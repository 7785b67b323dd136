"""The contract is the source of truth (DESIGN.md, after stripe-mock): documented paths and methods equal
the routes the Netcore app registers."""

from __future__ import annotations

import re

from emulator.contracts import contract


def test_documented_operations_equal_registered_routes(app):
    netcore = app.extensions["emulator.vendors"]["netcore"]
    routes = {(m, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
              for rule in netcore.url_map.iter_rules() if rule.endpoint != "static"
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = set(contract("netcore-email.openapi.yaml").operations)
    assert routes == documented
