"""The HTTP servers `serve` runs the app under: granian (the default: keep-alive) or gunicorn.

Both fork their worker processes from the process that built the app, so the workers share its loaded
modules and world tables; the state they share lives in the state directory (emulator.store).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from typing import Any

from .settings import Settings

SERVERS = ("granian", "gunicorn")

# What a server takes of a request's head: the contracts' largest valid requests (long ExpertSender and
# Netcore query strings, a bearer token, a user agent's headers) fit with room to spare.
# gunicorn's largest non-zero request-line limit (8190) is below the contracts' longest valid request line (a
# 4,096-character Netcore scrollid beside several 255-character filters, percent-encoded): 0, no limit.
REQUEST_LINE_MAX = 0
HEADER_FIELD_MAX = 16 * 1024  # one header line (gunicorn's limit_request_field_size)
REQUEST_HEAD_MAX = 1024 * 1024  # the whole head (granian's HTTP/1 buffer): more than gunicorn's 100 fields


class PortBusy(OSError):
    """A port `serve` should listen on is taken; the message names it."""


def check_ports(host: str, ports: Sequence[int]) -> None:
    """Raise PortBusy naming the first of `ports` on `host` that cannot be listened on now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in ports:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise PortBusy(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def server_of(settings: Settings) -> str:
    """The server `serve` runs: the one asked for; by default granian, or gunicorn when each vendor also
    gets a port of its own (granian listens on one port)."""
    if settings.server != "auto":
        return settings.server
    return "gunicorn" if settings.vendor_ports else "granian"


def run(app: Any, settings: Settings, binds: Sequence[tuple[str, int]]) -> None:
    if server_of(settings) == "gunicorn":
        run_gunicorn(app, settings, binds)
    else:
        run_granian(app, settings, binds)


def run_granian(app: Any, settings: Settings, binds: Sequence[tuple[str, int]]) -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    if len(binds) != 1:
        raise ValueError("granian listens on one port: use --server gunicorn with --vendor-ports")
    (host, port), = binds
    server = Server(
        "emulator.app:create_app",  # a name for granian's logs; the app itself comes from target_loader
        address=host, port=port, interface=Interfaces.WSGI, http=HTTPModes.http1, websockets=False,
        workers=settings.workers,
        respawn_failed_workers=True,  # a worker that dies (killed, out of memory) is replaced, as gunicorn does
        # One thread a worker by default, as gunicorn's sync workers: a request's SQLite statements and the
        # world's tables run without contention; --threads raises it.
        blocking_threads=settings.threads,
        http1_settings=HTTP1Settings(max_buffer_size=REQUEST_HEAD_MAX),
        log_level=_granian_level(settings.log_level), log_access=False,
    )
    server.serve(target_loader=lambda _target: app)


def _granian_level(level: str) -> Any:
    from granian.log import LogLevels

    return LogLevels(level.lower()) if level.lower() in LogLevels.__members__.values() else LogLevels.info


def run_gunicorn(app: Any, settings: Settings, binds: Sequence[tuple[str, int]]) -> None:
    from gunicorn import util
    from gunicorn.app.base import BaseApplication

    # A request refused before it reaches the app (request line or headers too long, bad framing) is
    # answered as problem+json instead of gunicorn's HTML page.
    util.write_error = write_json_error

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in binds])
            self.cfg.set("workers", settings.workers)
            self.cfg.set("threads", settings.threads)
            self.cfg.set("worker_class", "gthread" if settings.threads > 1 else "sync")
            self.cfg.set("loglevel", settings.log_level)
            self.cfg.set("timeout", 300)  # large exports stream for a while
            self.cfg.set("graceful_timeout", 5)
            # Netcore's v5.1 auth header is `api_key`, with an underscore, which gunicorn drops by default.
            self.cfg.set("header_map", "dangerous")
            self.cfg.set("limit_request_line", REQUEST_LINE_MAX)
            self.cfg.set("limit_request_field_size", HEADER_FIELD_MAX)
            # gunicorn's control socket (gunicornc) is one path per user, shared by every gunicorn on the
            # machine, and its directory may not be writable (a container's home): not used.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return app

    Server().run()


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's util.write_error, answering problem+json (RFC 9457) instead of an HTML page."""
    from gunicorn import util

    body = json.dumps({"type": "about:blank", "title": reason, "status": status_int, "detail": mesg}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)
