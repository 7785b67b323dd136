"""One frozen settings object, from CLI flags over EMULATOR_* environment variables over defaults."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Default test credentials, accepted out of the box and printed at start (docs/running.md).
DEFAULT_APSIS_CLIENT_ID = "5c1e2a9d-7b4f-4e3a-9d61-0e6f1a2b3c4d"
DEFAULT_APSIS_CLIENT_SECRET = "emulator-apsis-secret-8f3b2c7d1e6a4f90"
# The key of the examples in "ExpertSender API v2: Get subscriber activity".
DEFAULT_EXPERTSENDER_API_KEY = "test_api_key1"
DEFAULT_NETCORE_API_KEY = "emulator-netcore-api-key-5d41402abc4b2a76"

VENDORS = ("apsis", "expertsender", "netcore")


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _tuple(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 1
    server: str = "auto"  # granian, gunicorn, or auto: granian, and gunicorn with vendor_ports (emulator.servers)
    seed: int = 42
    scale: float = 1.0
    scenarios: tuple[str, ...] = ("default",)
    state_dir: str | None = None
    scenario_dir: str | None = None
    vendor_ports: bool = False
    apsis_port: int | None = None
    expertsender_port: int | None = None
    netcore_port: int | None = None
    control_token: str | None = None
    apsis_client_id: str = DEFAULT_APSIS_CLIENT_ID
    apsis_client_secret: str = DEFAULT_APSIS_CLIENT_SECRET
    expertsender_api_key: str = DEFAULT_EXPERTSENDER_API_KEY
    netcore_api_key: str = DEFAULT_NETCORE_API_KEY
    # Seconds of virtual time an export needs before it is ready, on top of its size-based share.
    export_delay: float = 1.0
    gzip_level: int = 3  # as fast as level 1 once compression runs beside rendering, smaller files
    expertsender_timezone: str = "Europe/Warsaw"
    netcore_timezone: str = "Asia/Kolkata"
    journal_limit: int = 10_000
    # Named sessions (emulator.sessions): at most this many at once; one unused this long (real seconds) ends.
    max_sessions: int = 2000
    session_idle_seconds: float = 3600.0
    # Processes one large export is rendered by (emulator.parallel); 0: one per usable core, at most 4;
    # 1: always in the serving worker.
    export_processes: int = 0
    log_level: str = "info"
    # --- APSIS One ("APSIS One API: Request email event export", "... profile in segment event export") ---
    apsis_section_count: int = 3  # sections on the account; over 25 -> 413 on email export requests
    apsis_pending_export_limit: int = 5  # pending exports per kind; reached -> 429 (both export documents)
    apsis_export_size_limit: int = 5_000_000  # estimated cells (rows x columns / 20); over -> size error
    apsis_download_url_ttl: int = 600  # seconds a file_download_url stays valid (emulator choice)
    apsis_token_limit: int = 10  # token requests a virtual minute, then 429 ("APSIS One API: Limits"); 0: off
    # --- Netcore Email API ("Netcore Email API: Events API" and its reference pages) ---
    netcore_retention_days: int = 90  # "events data only for the last 90 days" ("Get stats")
    netcore_v51_limit_default: int = 10  # v5.1 logs: param box and SDK say 10, the doc text 50 (reference)
    netcore_v51_limit_max: int = 1000  # v5.1 logs: param box says 1000, the doc text 5000 (reference)
    netcore_scroll_ttl: int = 600  # virtual seconds a scroll id stays valid (emulator choice)
    netcore_download_ttl: int = 3600  # virtual seconds a Download Logs file lives once ready (emulator choice)
    netcore_download_max_events: int = 5_000_000  # larger downloads fail as too large (emulator choice)
    netcore_subaccounts: tuple[str, ...] = ("emulator-sub",)  # usernames the v6 sub-account header accepts
    # --- ExpertSender ("ExpertSender API v2: Get subscriber activity" and its reference pages) ---
    expertsender_csv_bom: bool = False  # clients strip a UTF-8 BOM; .NET writers may send one
    expertsender_line_end: str = "crlf"  # crlf (.NET default) or lf
    # The document's example asks gzip,deflate and gets a plain answer with Content-Length: plain unless set.
    expertsender_gzip: bool = False

    def vendor_port(self, vendor: str) -> int:
        """Port of a vendor's own root-path listener (with --vendor-ports): main port + 1, 2, 3 unless set."""
        explicit = getattr(self, f"{vendor}_port")
        return explicit if explicit else self.port + 1 + VENDORS.index(vendor)

    @property
    def render_processes(self) -> int:
        if self.export_processes:
            return self.export_processes
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(4, cores))

    @property
    def loopback_only(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


# Environment variable -> (field, parser)
_ENV: dict[str, tuple[str, Any]] = {
    "EMULATOR_HOST": ("host", str),
    "EMULATOR_PORT": ("port", int),
    "EMULATOR_WORKERS": ("workers", int),
    "EMULATOR_THREADS": ("threads", int),
    "EMULATOR_SERVER": ("server", str),
    "EMULATOR_SEED": ("seed", int),
    "EMULATOR_SCALE": ("scale", float),
    "EMULATOR_SCENARIO": ("scenarios", _tuple),
    "EMULATOR_STATE_DIR": ("state_dir", str),
    "EMULATOR_SCENARIO_DIR": ("scenario_dir", str),
    "EMULATOR_VENDOR_PORTS": ("vendor_ports", _bool),
    "EMULATOR_APSIS_PORT": ("apsis_port", int),
    "EMULATOR_EXPERTSENDER_PORT": ("expertsender_port", int),
    "EMULATOR_NETCORE_PORT": ("netcore_port", int),
    "EMULATOR_CONTROL_TOKEN": ("control_token", str),
    "EMULATOR_APSIS_CLIENT_ID": ("apsis_client_id", str),
    "EMULATOR_APSIS_CLIENT_SECRET": ("apsis_client_secret", str),
    "EMULATOR_EXPERTSENDER_API_KEY": ("expertsender_api_key", str),
    "EMULATOR_NETCORE_API_KEY": ("netcore_api_key", str),
    "EMULATOR_EXPORT_DELAY": ("export_delay", float),
    "EMULATOR_GZIP_LEVEL": ("gzip_level", int),
    "EMULATOR_EXPERTSENDER_TIMEZONE": ("expertsender_timezone", str),
    "EMULATOR_NETCORE_TIMEZONE": ("netcore_timezone", str),
    "EMULATOR_JOURNAL_LIMIT": ("journal_limit", int),
    "EMULATOR_MAX_SESSIONS": ("max_sessions", int),
    "EMULATOR_SESSION_IDLE_SECONDS": ("session_idle_seconds", float),
    "EMULATOR_EXPORT_PROCESSES": ("export_processes", int),
    "EMULATOR_LOG_LEVEL": ("log_level", str),
    # APSIS One
    "EMULATOR_APSIS_SECTION_COUNT": ("apsis_section_count", int),
    "EMULATOR_APSIS_PENDING_EXPORT_LIMIT": ("apsis_pending_export_limit", int),
    "EMULATOR_APSIS_EXPORT_SIZE_LIMIT": ("apsis_export_size_limit", int),
    "EMULATOR_APSIS_DOWNLOAD_URL_TTL": ("apsis_download_url_ttl", int),
    "EMULATOR_APSIS_TOKEN_LIMIT": ("apsis_token_limit", int),
    # ExpertSender
    "EMULATOR_EXPERTSENDER_CSV_BOM": ("expertsender_csv_bom", _bool),
    "EMULATOR_EXPERTSENDER_LINE_END": ("expertsender_line_end", str),
    "EMULATOR_EXPERTSENDER_GZIP": ("expertsender_gzip", _bool),
    # Netcore
    "EMULATOR_NETCORE_RETENTION_DAYS": ("netcore_retention_days", int),
    "EMULATOR_NETCORE_V51_LIMIT_DEFAULT": ("netcore_v51_limit_default", int),
    "EMULATOR_NETCORE_V51_LIMIT_MAX": ("netcore_v51_limit_max", int),
    "EMULATOR_NETCORE_SCROLL_TTL": ("netcore_scroll_ttl", int),
    "EMULATOR_NETCORE_DOWNLOAD_TTL": ("netcore_download_ttl", int),
    "EMULATOR_NETCORE_DOWNLOAD_MAX_EVENTS": ("netcore_download_max_events", int),
    "EMULATOR_NETCORE_SUBACCOUNTS": ("netcore_subaccounts", _tuple),
}

ENV_VARS = tuple(_ENV)


class SettingsError(ValueError):
    pass


def from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment; keyword overrides (CLI flags) win when not None."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name, (attr, parse) in _ENV.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[attr] = parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if not 0 < settings.port < 65536:
        raise SettingsError(f"port {settings.port} is out of range")
    if settings.workers < 1 or settings.threads < 1:
        raise SettingsError("workers and threads must be at least 1")
    if settings.server not in ("auto", "granian", "gunicorn"):
        raise SettingsError(f"server {settings.server!r}: one of auto, granian, gunicorn")
    if settings.server == "granian" and settings.vendor_ports:
        raise SettingsError("granian listens on one port: --vendor-ports needs --server gunicorn (or auto)")
    if settings.scale <= 0:
        raise SettingsError("scale must be positive")
    if settings.export_processes < 0:
        raise SettingsError("export processes must be 0 (one per core) or more")
    if not 0 <= settings.gzip_level <= 9:
        raise SettingsError("gzip level must be 0-9")
    if settings.expertsender_line_end not in ("crlf", "lf"):
        raise SettingsError("EMULATOR_EXPERTSENDER_LINE_END must be crlf or lf")
    if settings.max_sessions < 0 or settings.session_idle_seconds <= 0:
        raise SettingsError("max sessions must be 0 or more, the session idle time positive")
    if not settings.scenarios:
        raise SettingsError("at least one scenario is needed (use 'default' for none)")
