"""Runs schemathesis over a contract in contracts/ against the in-process app or a live server.

A contract names its vendor and the emulator's path prefix in `x-emulator`; the vendor package supplies
credentials (`contract_auth(core)` in-process, `live_auth(env)` for the real API). An operation can turn
off a check that cannot hold for it with `x-emulator-skip-checks: {check_name: reason}`.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from emulator.conform import merge_auth, skipped_checks  # noqa: F401  (shared with the conform command)
from emulator.contracts import contracts_dir, load
from emulator.vendors import VENDOR_APPS

# Bounded, deterministic generation: the same examples every run.
HYPOTHESIS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))


def load_schema(filename: str):
    return schemathesis.openapi.from_path(str(contracts_dir() / filename))


def meta(filename: str) -> dict[str, Any]:
    return load(filename).get("x-emulator", {})


def vendor_hooks(filename: str):
    vendor = meta(filename).get("vendor")
    return import_module(VENDOR_APPS[vendor][0]) if vendor in VENDOR_APPS else None


def live_target(filename: str) -> tuple[str | None, dict | None, str]:
    """(base URL, auth, reason) for live mode from the environment; base URL None means skip."""
    hooks = vendor_hooks(filename)
    if hooks is None or not hasattr(hooks, "LIVE_ENV"):
        return None, None, f"{filename} has no live mode"
    missing = [name for name in hooks.LIVE_ENV if not os.environ.get(name)]
    if missing:
        return None, None, f"live contract run needs {', '.join(missing)} in the environment"
    return os.environ[hooks.LIVE_ENV[0]], hooks.live_auth(os.environ), ""
