"""pytest plugin: the real emulator server as a fixture, driven through the control API.

Registered through the ``pytest11`` entry point, so installing the package is enough. Fixtures:

- ``email_events_emulator`` (session): starts ``python -m emulator.cli serve`` on a free loopback port with
  its own state directory and yields an :class:`EmulatorHandle`. It never resets anything between tests.
- ``emulator`` (function): a handle on a fresh session of that server (docs/sessions.md), its own for the
  test: its URLs carry ``/sessions/<name>``, so its clock, scenario, jobs and journal are the test's alone,
  also when tests run in parallel (``pytest -n 4``) against one emulator; the session ends after the test.
  ``emulator_seed(n)`` gives the session seed n's world, ``emulator_scenario(...)`` its scenario.
  With ``--emulator-isolation reset`` (or an emulator without sessions) the handle is the server's own
  instead: ``reset()`` before the test, the marker's scenario during it, the start-up one restored after it,
  and another seed is served by another server (started once per seed).

Options (command line, or the ini key in brackets): ``--emulator-seed`` [emulator_seed],
``--emulator-scale`` [emulator_scale], ``--emulator-scenario`` [emulator_scenario],
``--emulator-workers`` [emulator_workers], ``--emulator-url`` [emulator_url, else EMULATOR_URL] to use an
emulator that is already running (a container) instead of starting one, ``--emulator-isolation``
[emulator_isolation]: ``session`` (default) or ``reset``.

Only the standard library is used at import time and by the handle: importing this module at pytest
start-up imports neither flask nor faker.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

START_TIMEOUT = 30.0  # seconds to wait for the first 200 from /_emulator/health
_CREDENTIAL_VARS = ("EMULATOR_APSIS_CLIENT_ID", "EMULATOR_APSIS_CLIENT_SECRET",
                    "EMULATOR_EXPERTSENDER_API_KEY", "EMULATOR_NETCORE_API_KEY")
# Variables the plugin decides itself for a server it starts (loopback, its own port and state directory).
_CHILD_ENV_DROP = ("EMULATOR_HOST", "EMULATOR_PORT", "EMULATOR_STATE_DIR", "EMULATOR_VENDOR_PORTS",
                   "EMULATOR_APSIS_PORT", "EMULATOR_EXPERTSENDER_PORT", "EMULATOR_NETCORE_PORT")


class EmulatorError(RuntimeError):
    """A control API call failed: ``status`` is the HTTP status, ``message`` the JSON ``error`` text."""

    def __init__(self, status: int, message: str, payload: Any = None, url: str = ""):
        super().__init__(f"{status} from {url}: {message}" if url else f"{status}: {message}")
        self.status = status
        self.message = message
        self.payload = payload


class EmulatorStartError(RuntimeError):
    """The server did not answer /_emulator/health in time (the message carries its output)."""


class Apsis(NamedTuple):
    base_url: str
    client_id: str
    client_secret: str


class ExpertSender(NamedTuple):
    base_url: str
    api_key: str


class Netcore(NamedTuple):
    base_url: str
    api_key: str


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)


def _format_time(moment: datetime | str) -> str:
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:  # a naive datetime is taken as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _credentials(env: dict[str, str]) -> dict[str, str]:
    """The vendor credentials a server started with `env` accepts (same precedence as the server)."""
    from emulator.settings import from_env

    settings = from_env({k: env[k] for k in _CREDENTIAL_VARS if env.get(k)})
    return {"apsis_client_id": settings.apsis_client_id, "apsis_client_secret": settings.apsis_client_secret,
            "expertsender_api_key": settings.expertsender_api_key,
            "netcore_api_key": settings.netcore_api_key}


class EmulatorHandle:
    """A running emulator: base URLs, default credentials and the control API (stdlib only)."""

    def __init__(self, url: str, credentials: dict[str, str], control_token: str | None = None,
                 timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.control_token = control_token
        self.timeout = timeout
        self.apsis = Apsis(self.url + "/apsis", credentials["apsis_client_id"],
                           credentials["apsis_client_secret"])
        self.expertsender = ExpertSender(self.url + "/expertsender", credentials["expertsender_api_key"])
        self.netcore = Netcore(self.url + "/netcore", credentials["netcore_api_key"])
        self.process: subprocess.Popen | None = None  # set when the plugin started the server
        self.log_path: Path | None = None
        self.default_scenario: list[str] = ["default"]  # the scenario the server started with
        self.seed: int | None = None
        self.session: str | None = None  # the session's name, for a handle on a session (new_session)
        self.server: EmulatorHandle | None = None  # the handle on the server, for a handle on a session

    def __repr__(self) -> str:
        return f"EmulatorHandle({self.url!r}, seed={self.seed})"

    # --- plumbing -------------------------------------------------------------------------------------
    def control(self, method: str, path: str, body: dict | None = None, query: dict | None = None) -> Any:
        """Call ``/_emulator/<path>`` and return the decoded JSON; a 4xx/5xx raises :class:`EmulatorError`."""
        url = f"{self.url}/_emulator/{path.lstrip('/')}"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.control_token:
            headers["X-Emulator-Token"] = self.control_token
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
                message = str(payload.get("error") or payload) if isinstance(payload, dict) else str(payload)
            except ValueError:
                payload, message = None, raw.decode("utf-8", "replace")[:500] or exc.reason
            raise EmulatorError(exc.code, message, payload, f"{method} {url}") from None

    # --- control API ----------------------------------------------------------------------------------
    def health(self) -> dict:
        """``GET /_emulator/health``: status, version, seed, scale, worker pid, uptime, now, scenario."""
        return self.control("GET", "health")

    def reset(self) -> dict:
        """Drop jobs, counters and journal; the clock goes back to real time (the scenario stays)."""
        return self.control("POST", "reset")

    def clock(self) -> dict:
        """``GET /_emulator/clock``: ``now``, ``epoch_ms``, ``offset_seconds``."""
        return self.control("GET", "clock")

    def now(self) -> datetime:
        """The virtual now, as an aware UTC datetime."""
        return _parse_time(self.clock()["now"])

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the virtual clock forward by seconds (or a timedelta); returns the new virtual now."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        return _parse_time(self.control("POST", "clock", {"advance": seconds})["now"])

    def set_clock(self, moment: datetime | str) -> datetime:
        """Set the virtual now (a datetime, naive taken as UTC, or an RFC 3339 string); returns it."""
        return _parse_time(self.control("POST", "clock", {"set": _format_time(moment)})["now"])

    def scenario(self) -> dict:
        """``GET /_emulator/scenario``: active ``names``, ``rules``, ``options`` and ``available``."""
        return self.control("GET", "scenario")

    def set_scenario(self, name_or_names: str | Sequence[str] | None = None, rules: list[dict] | None = None,
                     options: dict | None = None) -> dict:
        """Activate named scenarios and/or run-time rules and vendor options (replaces the active set)."""
        body: dict[str, Any] = {}
        if name_or_names is not None:
            body["names"] = [name_or_names] if isinstance(name_or_names, str) else list(name_or_names)
        if rules is not None:
            body["rules"] = rules
        if options is not None:
            body["options"] = options
        if not body:
            raise ValueError("set_scenario needs a name, names, rules or options")
        return self.control("PUT", "scenario", body)

    def clear_scenario(self) -> dict:
        """Back to the ``default`` scenario (no faults)."""
        return self.control("DELETE", "scenario")

    def scenarios(self) -> list[dict]:
        """The scenario library: ``name``, ``description``, ``rules`` (count)."""
        return self.control("GET", "scenarios")["items"]

    def journal(self, vendor: str | None = None, method: str | None = None, path: str | None = None,
                status: int | None = None, limit: int | None = None) -> list[dict]:
        """Requests the vendors received, oldest first. ``path`` is a glob on the vendor-relative path."""
        query = {"vendor": vendor, "method": method.upper() if method else None, "path": path,
                 "status": status, "limit": limit}
        return self.control("GET", "journal", query=query)["items"]

    def clear_journal(self) -> None:
        self.control("DELETE", "journal")

    def jobs(self, vendor: str | None = None, kind: str | None = None,
             state: str | None = None) -> list[dict]:
        """Export jobs with their state on the virtual clock (pending, ready, failed, expired)."""
        return self.control("GET", "jobs", query={"vendor": vendor, "kind": kind, "state": state})["items"]

    def restore_scenario(self) -> dict:
        """Back to the scenario the server started with."""
        if self.default_scenario == ["default"]:
            return self.clear_scenario()
        return self.set_scenario(self.default_scenario)

    # --- sessions (docs/sessions.md) -------------------------------------------------------------------
    def new_session(self, name: str | None = None, seed: int | None = None,
                    scenario: str | Sequence[str] | None = None) -> EmulatorHandle:
        """Create a session on this emulator (``POST /_emulator/sessions``) and return a handle on it: its
        vendor and control URLs carry ``/sessions/<name>``. ``name`` defaults to a unique one; ``seed`` and
        ``scenario`` to the server's."""
        name = name or f"pytest-{uuid.uuid4().hex[:12]}"
        body: dict[str, Any] = {"name": name}
        if seed is not None:
            body["seed"] = seed
        if scenario is not None:
            body["scenario"] = [scenario] if isinstance(scenario, str) else list(scenario)
        created = self.control("POST", "sessions", body)
        credentials = {"apsis_client_id": self.apsis.client_id, "apsis_client_secret": self.apsis.client_secret,
                       "expertsender_api_key": self.expertsender.api_key, "netcore_api_key": self.netcore.api_key}
        handle = EmulatorHandle(f"{self.url}/sessions/{name}", credentials, self.control_token, self.timeout)
        handle.session, handle.server, handle.seed = name, self, created["seed"]
        handle.default_scenario = list(self.default_scenario)
        return handle

    def end_session(self) -> None:
        """End this handle's session (``DELETE /_emulator/sessions/<name>``); an ended one is fine."""
        if self.server is None or self.session is None:
            raise ValueError("not a handle on a session")
        try:
            self.server.control("DELETE", f"sessions/{self.session}")
        except EmulatorError as exc:
            if exc.status != 404:
                raise

    # --- lifecycle (servers the plugin started) -------------------------------------------------------
    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def output(self) -> str:
        """What the server printed so far (servers the plugin started)."""
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""

    def _wait_healthy(self, deadline: float) -> dict:
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmulatorStartError(f"the emulator exited with code {self.process.returncode} before "
                                         f"answering {self.url}/_emulator/health; its output:\n"
                                         f"{self.output()}")
            try:
                return self.health()
            except (OSError, EmulatorError, ValueError) as exc:
                last = exc
                time.sleep(0.05)
        self.stop()
        raise EmulatorStartError(f"the emulator did not answer {self.url}/_emulator/health within "
                                 f"{START_TIMEOUT:.0f} s (last error: {last}); its output:\n{self.output()}")

    def _identify(self) -> None:
        health = self.health()
        self.seed = health.get("seed")
        self.default_scenario = list(health.get("scenario") or ["default"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workdir: Path, seed: int | None = None, scale: float | None = None,
                 scenarios: Sequence[str] = (), workers: int = 1, timeout: float = START_TIMEOUT,
                 extra_args: Sequence[str] = ()) -> EmulatorHandle:
    """Start ``python -m emulator.cli serve`` on a free loopback port; returns once health answers 200."""
    env = {k: v for k, v in os.environ.items() if k not in _CHILD_ENV_DROP}
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    args = [sys.executable, "-m", "emulator.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--state-dir", str(workdir / "state"), "--workers", str(workers), "--log-level", "warning"]
    if seed is not None:
        args += ["--seed", str(seed)]
    if scale is not None:
        args += ["--scale", str(scale)]
    for name in scenarios:
        args += ["--scenario", name]
    args += list(extra_args)
    handle = EmulatorHandle(f"http://127.0.0.1:{port}", _credentials(env), env.get("EMULATOR_CONTROL_TOKEN"))
    handle.log_path = workdir / "server.log"
    with open(handle.log_path, "w") as log:  # a file, not a pipe: a long session cannot fill it and block
        handle.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=env)
    handle._wait_healthy(time.monotonic() + timeout)
    handle._identify()
    return handle


def connect(url: str) -> EmulatorHandle:
    """A handle on an emulator that is already running (credentials and token from EMULATOR_* variables)."""
    env = dict(os.environ)
    handle = EmulatorHandle(url, _credentials(env), env.get("EMULATOR_CONTROL_TOKEN"))
    handle._wait_healthy(time.monotonic() + START_TIMEOUT)
    handle._identify()
    return handle


# --- pytest hooks ---------------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("email-events-emulator", "email-events-emulator fixtures")
    group.addoption("--emulator-seed", type=int, default=None,
                    help="seed of the session's emulator (ini emulator_seed; else EMULATOR_SEED, else 42)")
    group.addoption("--emulator-scale", type=float, default=None,
                    help="volume multiplier of the session's emulator (ini emulator_scale)")
    group.addoption("--emulator-scenario", action="append", default=None,
                    help="start-up scenario of the session's emulator, repeatable or comma list "
                         "(ini emulator_scenario)")
    group.addoption("--emulator-workers", type=int, default=None,
                    help="gunicorn workers of an emulator the plugin starts "
                         "(ini emulator_workers, default 1)")
    group.addoption("--emulator-url", default=None,
                    help="use the emulator already running at this root URL (e.g. a container) instead of "
                         "starting one (ini emulator_url, else EMULATOR_URL); EMULATOR_CONTROL_TOKEN is sent "
                         "when set")
    parser.addini("emulator_seed", "seed of the session's emulator", default="")
    parser.addini("emulator_scale", "volume multiplier of the session's emulator", default="")
    parser.addini("emulator_scenario", "start-up scenarios of the session's emulator (comma or space list)",
                  default="")
    parser.addini("emulator_workers", "gunicorn workers of an emulator the plugin starts", default="")
    parser.addini("emulator_url", "root URL of an emulator that is already running", default="")
    group.addoption("--emulator-isolation", choices=("session", "reset"), default=None,
                    help="how the `emulator` fixture isolates a test: its own session (default) or a reset "
                         "of the shared state (ini emulator_isolation)")
    parser.addini("emulator_isolation", "session (default) or reset", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_seed(n): run the test (with the `emulator` fixture) against "
                                       "an emulator of seed n, started once per seed for the session")
    config.addinivalue_line("markers", "emulator_scenario(*names, rules=None, options=None): activate these "
                                       "scenarios (with the `emulator` fixture) for the test, then restore "
                                       "the session's scenario")


class _Servers:
    """The session's emulators, one per seed, started on first use and stopped at the end of the session."""

    def __init__(self, config: pytest.Config, tmp_path_factory: pytest.TempPathFactory):
        self._tmp = tmp_path_factory
        self.url = (config.getoption("emulator_url") or config.getini("emulator_url")
                    or os.environ.get("EMULATOR_URL") or None)
        cli_seed = config.getoption("emulator_seed")
        ini_seed = config.getini("emulator_seed")
        env_seed = os.environ.get("EMULATOR_SEED")
        from emulator.settings import Settings

        self.seed: int = (cli_seed if cli_seed is not None else int(ini_seed) if ini_seed
                          else int(env_seed) if env_seed else Settings.seed)
        cli_scale = config.getoption("emulator_scale")
        ini_scale = config.getini("emulator_scale")
        self.scale = cli_scale if cli_scale is not None else float(ini_scale) if ini_scale else None
        raw = config.getoption("emulator_scenario") or [config.getini("emulator_scenario")]
        self.scenarios = [n for item in raw for n in re.split(r"[,\s]+", item or "") if n]
        workers = config.getoption("emulator_workers") or config.getini("emulator_workers")
        self.workers = int(workers) if workers else 1
        self.isolation = config.getoption("emulator_isolation") or config.getini("emulator_isolation") or "session"
        if self.isolation not in ("session", "reset"):
            raise pytest.UsageError(f"emulator_isolation {self.isolation!r}: session or reset")
        self._by_seed: dict[int | None, EmulatorHandle] = {}
        self._session: EmulatorHandle | None = None
        self._failed: dict[int, EmulatorStartError] = {}

    def session(self) -> EmulatorHandle:
        if self._session is None:
            self._session = connect(self.url) if self.url else self._start(self.seed)
            self._by_seed[self._session.seed] = self._session
        return self._session

    def for_seed(self, seed: int | None) -> EmulatorHandle:
        if self.url:
            session = self.session()
            if seed is None or seed == session.seed:
                return session
            pytest.skip(f"emulator_seed({seed}): the emulator at {self.url} runs seed {session.seed} and "
                        f"--emulator-url cannot start another seed")
        if seed is None or seed == self.seed:
            return self.session()
        if seed not in self._by_seed:
            self._by_seed[seed] = self._start(seed)
        return self._by_seed[seed]

    def _start(self, seed: int) -> EmulatorHandle:
        if seed in self._failed:  # one attempt per seed: later tests fail at once with the same error
            raise self._failed[seed]
        workdir = self._tmp.mktemp(f"emulator-seed-{seed}")
        try:
            return start_server(workdir, seed=seed, scale=self.scale, scenarios=self.scenarios,
                                workers=self.workers)
        except EmulatorStartError as exc:
            self._failed[seed] = exc
            raise

    def close(self) -> None:
        for handle in self._by_seed.values():
            handle.stop()
        if self._session is not None:
            self._session.stop()


@pytest.fixture(scope="session")
def _email_events_emulator_servers(pytestconfig, tmp_path_factory) -> Iterator[_Servers]:
    servers = _Servers(pytestconfig, tmp_path_factory)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def email_events_emulator(_email_events_emulator_servers) -> EmulatorHandle:
    """The session's emulator: a real server on a free loopback port, shared by every test (no resets)."""
    return _email_events_emulator_servers.session()


@pytest.fixture
def emulator(request, _email_events_emulator_servers) -> Iterator[EmulatorHandle]:
    """The emulator for one test: a fresh session of its own (or, with isolation "reset", the server reset
    before it), with the markers' seed and scenario."""
    seed_marker = request.node.get_closest_marker("emulator_seed")
    seed = None
    if seed_marker is not None:
        if len(seed_marker.args) != 1 or not isinstance(seed_marker.args[0], int):
            raise pytest.UsageError("emulator_seed takes one integer: @pytest.mark.emulator_seed(7)")
        seed = seed_marker.args[0]
    names, rules, options = None, None, None
    scenario_marker = request.node.get_closest_marker("emulator_scenario")
    if scenario_marker is not None:
        names = [n for arg in scenario_marker.args for n in ([arg] if isinstance(arg, str) else arg)]
        unknown = set(scenario_marker.kwargs) - {"rules", "options"}
        if unknown:
            raise pytest.UsageError(f"emulator_scenario: unknown keyword(s) {sorted(unknown)}; "
                                    "use rules= and options=")
        rules, options = scenario_marker.kwargs.get("rules"), scenario_marker.kwargs.get("options")
        if not (names or rules or options):
            raise pytest.UsageError("emulator_scenario needs a scenario name, rules= or options=")
    servers = _email_events_emulator_servers
    handle = _session_of(servers, seed, names) if servers.isolation == "session" else None
    if handle is not None:
        try:
            if rules is not None or options is not None:
                handle.set_scenario(names or None, rules, options)
            yield handle
        finally:
            handle.end_session()
        return
    handle = servers.for_seed(seed)
    handle.reset()
    if scenario_marker is not None:
        handle.set_scenario(names or None, rules, options)
    else:
        handle.restore_scenario()
    try:
        yield handle
    finally:
        handle.restore_scenario()


def _session_of(servers: _Servers, seed: int | None, names: list[str] | None) -> EmulatorHandle | None:
    """A new session of the session's emulator; None when the emulator has no sessions (an older one)."""
    server = servers.session()
    try:
        return server.new_session(seed=seed, scenario=names or None)
    except EmulatorError as exc:
        if exc.status in (404, 405):
            return None
        raise
