"""Runs a contract in contracts/ through `emulator.conform` against the in-process app or a live server.

A contract names its vendor and the emulator's path prefix in `x-emulator`; the vendor package supplies
credentials by security scheme (`contract_auth(core)` in-process, `live_auth(env)` for the real API), which
conform registers as a schemathesis auth provider. An operation can turn off a check that cannot hold for it
with `x-emulator-skip-checks: {check_name: reason}`.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from emulator.conform import Row, Target, print_table, run
from emulator.contracts import contracts_dir, load
from emulator.vendors import VENDOR_APPS

# Bounded and deterministic (conform derandomizes generation): the same examples every run.
MAX_EXAMPLES = 10
STATEFUL_EXAMPLES = 8


def meta(filename: str) -> dict[str, Any]:
    return load(filename).get("x-emulator", {})


def vendor_hooks(filename: str):
    vendor = meta(filename).get("vendor")
    return import_module(VENDOR_APPS[vendor][0]) if vendor in VENDOR_APPS else None


def in_process(filename: str, app) -> list[Row]:
    """The contract's positive, negative and stateful runs against the app; pending exports wait on the
    virtual clock."""
    core = app.config["EMULATOR_CORE"]
    hooks = vendor_hooks(filename)
    target = Target("http://localhost" + meta(filename).get("prefix", ""), app=app, wait=core.clock.advance,
                    today=lambda: datetime.fromtimestamp(core.clock.now(), UTC).date())
    return run(str(contracts_dir() / filename), target, hooks.contract_auth(core) if hooks else {},
               max_examples=MAX_EXAMPLES, stateful_examples=STATEFUL_EXAMPLES)


def table(rows: list[Row]) -> str:
    out = io.StringIO()
    print_table(rows, out)
    return out.getvalue()


def live_target(filename: str) -> tuple[str | None, dict | None, str]:
    """(base URL, credentials, reason) for live mode from the environment; base URL None means skip."""
    hooks = vendor_hooks(filename)
    if hooks is None or not hasattr(hooks, "LIVE_ENV"):
        return None, None, f"{filename} has no live mode"
    missing = [name for name in hooks.LIVE_ENV if not os.environ.get(name)]
    if missing:
        return None, None, f"live contract run needs {', '.join(missing)} in the environment"
    return os.environ[hooks.LIVE_ENV[0]], hooks.live_auth(os.environ), ""
