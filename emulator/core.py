"""The shared core one app holds: settings, store, clock, world, faults, exports and the journal."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field

from .clock import Clock
from .exports import Exports
from .faults import START_KEY, Faults, load_library
from .settings import Settings
from .store import Store
from .world import World, get_world

# Headers whose values never reach the journal in clear.
SECRET_HEADERS = {"authorization", "api_key", "x_apsis_auth", "x_emulator_token", "cookie", "apikey"}
SECRET_QUERY = {"apikey", "api_key", "token", "access_token", "client_secret", "signature"}


def mask(value: str) -> str:
    return value[:4] + "…" if len(value) > 8 else "…"


@dataclass
class Core:
    settings: Settings
    store: Store
    clock: Clock
    faults: Faults
    exports: Exports
    started_at: float = field(default_factory=time.time)

    @property
    def world(self) -> World:
        return get_world(self.settings.seed, self.settings.scale)

    # --- journal -----------------------------------------------------------------------------
    def record(self, *, vendor: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes, status: int, fault: str | None) -> None:
        masked_headers = {k: (mask(v) if k.lower().replace("-", "_") in SECRET_HEADERS else v)
                          for k, v in headers.items()}
        masked_query = "&".join(f"{k}={mask(v) if k.lower() in SECRET_QUERY else v}" for k, v in query.items())
        self.store.append_journal({
            "at": self.clock.now(), "vendor": vendor, "method": method, "path": path, "query": masked_query,
            "headers": masked_headers, "body_digest": hashlib.sha256(body).hexdigest() if body else "",
            "body_size": len(body), "status": status, "fault": fault,
        }, self.settings.journal_limit)

    def reset(self) -> None:
        """Jobs, counters, journal and clock back to the start; the active scenario stays."""
        self.store.reset(keep=["scenario", START_KEY])


def ensure_state_dir(settings: Settings) -> Settings:
    """A state directory shared by the workers: the configured one, or a fresh temporary one."""
    if settings.state_dir:
        os.makedirs(settings.state_dir, exist_ok=True)
        return settings
    return settings.replace(state_dir=tempfile.mkdtemp(prefix="email-events-emulator-"))


def build_core(settings: Settings, *, activate: bool = True) -> Core:
    settings = ensure_state_dir(settings)
    store = Store(os.path.join(settings.state_dir, "emulator.db"))
    clock = Clock(store)
    library = load_library(settings.scenario_dir)
    faults = Faults(store, clock, settings.seed, library)
    if activate:
        unknown = [n for n in settings.scenarios if n not in library]
        if unknown:
            raise ValueError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(sorted(library))}")
        faults.start(settings.scenarios)
    exports = Exports(store, clock, settings.seed, settings.export_delay)
    return Core(settings, store, clock, faults, exports)

