"""A deliberately drifted server: the emulator's app behind a WSGI wrapper that changes one answer the way a
vendor might change its API, served on a loopback port for `email-events-emulator conform`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from emulator.app import create_app
from emulator.settings import Settings

# (path, status, headers, body) -> (status, headers, body) of the drifted answer
Drift = Callable[[str, str, list, bytes], tuple[str, list, bytes]]


class Drifted:
    """The app with `drift` applied to the answers of `path`; every other answer unchanged."""

    def __init__(self, app, path: str, drift: Drift):
        self.app, self.path, self.drift = app, path, drift

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        environ = {k: v for k, v in environ.items() if k != "HTTP_ACCEPT_ENCODING"}  # plain bodies to edit
        captured: list = []
        body = b"".join(self.app(environ, lambda status, headers, exc_info=None: captured.extend(
            [status, headers])))
        status, headers, body = self.drift(self.path, captured[0], captured[1], body)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


def json_items(edit: Callable[[dict], dict]) -> Drift:
    """Each object of a 200 answer's `items` edited."""

    def drift(path, status, headers, body):
        if status.startswith("200"):
            doc = json.loads(body)
            doc["items"] = [edit(item) for item in doc["items"]]
            body = json.dumps(doc).encode()
        return status, headers, body

    return drift


def csv_without(column: str) -> Drift:
    """A 200 CSV answer without one column, header and rows (cut at commas: the cells up to that column
    must hold no quoted comma, as the first columns of every Activities type, Date and Email, do not)."""

    def drift(path, status, headers, body):
        if status.startswith("200") and body:
            lines = body.decode("utf-8").split("\r\n")
            header = lines[0].split(",")
            if column in header:
                at = header.index(column)
                lines = [",".join(c for i, c in enumerate(line.split(",")) if i != at) if line else line
                         for line in lines]
            body = "\r\n".join(lines).encode("utf-8")
        return status, headers, body

    return drift


def unchanged(path, status, headers, body):
    """No drift: the same answer (through the same wrapper, to show the wrapper alone changes nothing)."""
    return status, headers, body


def status(new_status: str) -> Drift:
    """Every answer with another status line (same headers and body)."""
    return lambda path, status, headers, body: (new_status, headers, body)


def emulator(state_dir: Path):
    """The emulator's app to drift (one per test module: each app holds its store's files open)."""
    return create_app(Settings(state_dir=str(state_dir), seed=42))


@contextmanager
def served(app, path: str, drift: Drift) -> Iterator[str]:
    """`app` with `drift` on `path`, on a free loopback port for the duration of the block: its base URL."""
    server = make_server("127.0.0.1", 0, Drifted(app, path, drift))  # one thread: conform asks one at a time
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
