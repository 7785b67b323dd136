"""The shared core one app holds: settings, store, clock, world, faults, exports and the journal."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from werkzeug.datastructures import EnvironHeaders

from .clock import Clock
from .exports import Exports
from .faults import START_KEY, Faults, load_library
from .sessions import Sessions, current
from .settings import Settings
from .store import Store
from .world import World, get_world

# A header or query parameter whose name reads as a credential never reaches the journal in clear: a word of
# the name (split at punctuation and camelCase: X-Api-Key, apiKey, client_secret, Proxy-Authorization,
# password, pass) ends like a credential.
_NAME_WORDS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_CREDENTIAL_WORD = re.compile(
    r"(auth|authn|authz|authorization|authentication|token|secret|pass|passwd|password|passphrase|pwd|key|"
    r"cookie|session|sessionid|sid|sig|signature|credential|credentials|bearer|jwt|otp)$")

# The journal is bounded in bytes, not only in rows: longer values are cut, later headers only counted.
JOURNAL_VALUE_MAX = 256  # characters of one header or query value
JOURNAL_HEADERS_MAX = 4096  # characters of one request's header names and values
JOURNAL_TEXT_MAX = 1024  # characters of the path, and of the query string


@lru_cache(maxsize=1024)
def is_credential(name: str) -> bool:
    return any(_CREDENTIAL_WORD.search(word.lower()) for word in _NAME_WORDS.split(name) if word)


def mask(value: str) -> str:
    return value[:4] + "…" if len(value) > 8 else "…"


def clip(value: str, limit: int) -> str:
    """`value`, cut to `limit` characters and marked as cut."""
    return value if len(value) <= limit else f"{value[:limit]}…(+{len(value) - limit} chars)"


def journal_headers(environ: dict[str, Any]) -> str:
    """A request's headers as the journal keeps them, in JSON: credentials masked, values cut, at most
    JOURNAL_HEADERS_MAX characters (the headers beyond are counted under "…"); named as Werkzeug names them.
    A client sends the same headers request after request: the answer is kept per set of raw headers."""
    # A server's environ holds more than headers (granian adds its whole process environment): the keys known
    # not to be headers are taken out in one set operation rather than each looked at.
    raw = []
    for key in environ.keys() - _NOT_HEADERS:
        if key.startswith("HTTP_") or key in _HEADER_KEYS:
            raw.append((key, environ[key]))
        else:
            _NOT_HEADERS.add(key)
    found = frozenset(raw)
    text = _HEADERS_TEXT.get(found)
    if text is None:
        if len(_HEADERS_TEXT) >= 256:
            _HEADERS_TEXT.clear()
        text = _HEADERS_TEXT[found] = _journal_headers(environ)
    return text


_HEADER_KEYS = frozenset(("CONTENT_TYPE", "CONTENT_LENGTH"))
_NOT_HEADERS: set[str] = set()  # environ keys seen that are not headers
_HEADERS_TEXT: dict[frozenset[tuple[str, Any]], str] = {}


def _journal_headers(environ: dict[str, Any]) -> str:
    out: dict[str, str] = {}
    budget, left_out = JOURNAL_HEADERS_MAX, 0
    for name, value in EnvironHeaders(environ).items():
        value = mask(value) if is_credential(name) else clip(value, JOURNAL_VALUE_MAX)
        budget -= len(name) + len(value)
        if budget < 0:
            left_out += 1
            continue
        out[name] = value
    if left_out:
        out["…"] = f"{left_out} more header(s) not recorded"
    return json.dumps(out)


def journal_query(query: Iterable[tuple[str, str]]) -> str:
    """The query string as the journal keeps it: credentials masked, values cut, JOURNAL_TEXT_MAX at most."""
    text = "&".join(f"{k}={mask(v) if is_credential(k) else clip(v, JOURNAL_VALUE_MAX)}" for k, v in query)
    return clip(text, JOURNAL_TEXT_MAX)


@lru_cache(maxsize=64)
def _reseeded(settings: Settings, seed: int) -> Settings:
    return settings.replace(seed=seed)


@dataclass
class Core:
    base_settings: Settings  # the server's; a session of another seed sees them with its seed (settings)
    store: Store
    clock: Clock
    faults: Faults
    exports: Exports
    started_at: float = field(default_factory=time.time)
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(self)

    @property
    def settings(self) -> Settings:
        """The settings the current request runs with: the server's, with its session's seed."""
        seed = current().seed
        return self.base_settings if seed is None else _reseeded(self.base_settings, seed)

    @property
    def world(self) -> World:
        settings = self.settings
        return get_world(settings.seed, settings.scale)

    # --- journal -----------------------------------------------------------------------------
    def record(self, *, vendor: str, method: str, path: str, query: Iterable[tuple[str, str]],
               environ: dict[str, Any], body: bytes, status: int, fault: str | None) -> float:
        """One request into the journal (best effort, see Store.append_journal), its headers read from its
        WSGI environ; answers its time."""
        at = self.clock.now()
        self.store.append_journal_row([  # in Store.JOURNAL_COLUMNS' order
            at, vendor, method, clip(path, JOURNAL_TEXT_MAX), journal_query(query) if query else "",
            journal_headers(environ), hashlib.sha256(body).hexdigest() if body else "", len(body), status, fault,
        ], self.settings.journal_limit)
        return at

    def reset(self) -> None:
        """The current session's jobs, counters, journal and clock back to the start; its scenario stays."""
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

