"""Sessions: isolated copies of the small mutable state, named by a path prefix.

`/sessions/<name>/apsis/...`, `/sessions/<name>/_emulator/...` (and `/sessions/<name>/...` on a vendor's own
port) run in session <name>: its own clock offset, scenario and fault counters, export jobs, rate limits and
journal. Paths without the prefix are the default session (name ""; `/sessions/default/...` names it too).
The world is not per session: sessions of one seed share it and its caches.

SessionMiddleware moves the prefix from PATH_INFO to SCRIPT_NAME, so every URL the apps build with url_for
(poll URLs, signed download URLs) carries it, and sets the request's session in a context variable that the
store reads to key every row. A named session is created on its first request with the server's defaults,
or through the control API; idle ones are dropped after `session_idle_seconds`, and at most `max_sessions`
exist at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Core

PREFIX = "/sessions/"
DEFAULT_NAME = "default"  # names the default session in a path and in the control API
# Letters, digits, '.', '_' and '-', starting with a letter or digit, 1 to 64 characters.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = ("a session name is 1 to 64 characters of letters, digits, '.', '_' and '-', starting with a "
             "letter or digit")
# environ key of a session the request could not enter: (control API status, vendor status, message)
ERROR_KEY = "emulator.session_error"
ROOT_KEY = "emulator.root_path"  # environ: SCRIPT_NAME before the session's prefix
TOUCH_EVERY_S = 5.0  # last use is written at most this often per session (a write invalidates caches)
EXPIRE_EVERY_S = 30.0  # how often a process looks for idle sessions


@dataclass(frozen=True)
class Session:
    name: str  # "" for the default session
    seed: int | None = None  # None: the server's


DEFAULT = Session("")
_current: ContextVar[Session] = ContextVar("emulator_session", default=DEFAULT)


def current() -> Session:
    return _current.get()


def current_name() -> str:
    return _current.get().name


@contextmanager
def using(session: Session) -> Iterator[Session]:
    """`with using(session):` run some code in a session, then go back."""
    token = _current.set(session)
    try:
        yield session
    finally:
        _current.reset(token)


def valid_name(name: str) -> bool:
    return NAME_PATTERN.fullmatch(name) is not None


def store_name(name: str) -> str:
    """The name a session's rows are stored under ("" for the default session)."""
    return "" if name == DEFAULT_NAME else name


def public_name(name: str) -> str:
    return name or DEFAULT_NAME


class SessionLimitError(RuntimeError):
    """`max_sessions` named sessions exist already."""


class SessionExistsError(RuntimeError):
    pass


class Sessions:
    """The named sessions of one server (their table is in the store, shared by the workers)."""

    def __init__(self, core: Core):
        self._core = core
        self._lock = threading.Lock()
        self._expired_at = 0.0

    @property
    def _store(self):
        return self._core.store

    def use(self, name: str) -> Session:
        """The session `name` for a request: created with the server's defaults if it does not exist, its last
        use noted."""
        name = store_name(name)
        if not name:
            return DEFAULT
        now = time.time()
        self._expire(now)
        row = self._store.session_row(name)
        if row is None:
            return self.create(name, quiet=True)
        if now - row["last_used"] >= TOUCH_EVERY_S:
            self._store.touch_session(name, now)
        return Session(name, row["seed"])

    def create(self, name: str, seed: int | None = None, scenarios: list[str] | None = None,
               quiet: bool = False) -> Session:
        """A new session with the server's scenario at start (or `scenarios`: KeyError for an unknown one) and
        clock. SessionExistsError if it exists (with quiet: that session), SessionLimitError past the limit."""
        settings = self._core.base_settings
        names = list(settings.scenarios if scenarios is None else scenarios)
        state = self._core.faults.initial_state(names)
        seed = None if seed == settings.seed else seed
        created = self._store.create_session(name, seed, time.time(), settings.max_sessions, {"scenario": state})
        if created is None:
            self._expire(time.time(), force=True)
            created = self._store.create_session(name, seed, time.time(), settings.max_sessions,
                                                 {"scenario": state})
        if created is None:
            raise SessionLimitError(f"Too many sessions: {settings.max_sessions} exist (max_sessions); end one "
                                    f"with DELETE /_emulator/sessions/<name>, or wait until idle ones expire "
                                    f"({settings.session_idle_seconds:g} s).")
        row = self._store.session_row(name)
        if not created and not quiet:
            raise SessionExistsError(f"Session {name!r} exists already.")
        return Session(name, row["seed"] if row else seed)

    def delete(self, name: str) -> bool:
        return self._store.drop_session(store_name(name))

    def _expire(self, now: float, force: bool = False) -> None:
        if not force and now - self._expired_at < EXPIRE_EVERY_S:
            return
        with self._lock:
            self._expired_at = now
        for name in self._store.idle_sessions(now - self._core.base_settings.session_idle_seconds):
            self._store.drop_session(name)

    def listing(self) -> list[dict[str, Any]]:
        """Every session, the default first, as the control API lists them."""
        self._expire(time.time())
        return self._store.sessions()


class SessionMiddleware:
    """Resolves a request's session from its path (see the module's docstring). A named session is current only
    while the app answers and its body is iterated (a context of its own), so it never outlives the request in
    the thread that served it."""

    def __init__(self, app, core: Core):
        self.app = app
        self.sessions = core.sessions

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        name, slash, rest = path[len(PREFIX):].partition("/")
        environ[ROOT_KEY] = environ.get("SCRIPT_NAME", "")
        environ["SCRIPT_NAME"] = environ[ROOT_KEY] + PREFIX + name
        environ["PATH_INFO"] = slash + rest
        session = DEFAULT
        if not valid_name(name):
            environ[ERROR_KEY] = (400, 404, f"Invalid session name {name!r}: {NAME_RULE}.")
        else:
            try:
                session = self.sessions.use(name)
            except SessionLimitError as exc:
                environ[ERROR_KEY] = (429, 429, str(exc))
        context = copy_context()
        context.run(_current.set, session)
        return _InContext(context, context.run(self.app, environ, start_response))


class _InContext:
    """A WSGI body iterated (and closed) in `context`."""

    def __init__(self, context: Context, body: Iterable[bytes]):
        self._context = context
        self._body = body
        self._chunks: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            self._chunks = self._context.run(iter, self._body)
        return self._context.run(next, self._chunks)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            self._context.run(close)
