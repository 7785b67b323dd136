"""Start the real `email-events-emulator serve` (gunicorn) on a free loopback port for a test."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit


def free_port(count: int = 1) -> int:
    """A port p such that p .. p+count-1 are free right now."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + count < 65535 and all(_free(port + i) for i in range(1, count)):
            return port
    raise RuntimeError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers, a worker's rendering processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def get_json(url: str, headers: dict | None = None, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json",
                                                                        **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def start_server(state_dir: Path, *args: str, env: dict | None = None, ports: int = 1
                 ) -> tuple[subprocess.Popen, str]:
    """`serve` started on a free port, once its health answers: (the master process, its base URL)."""
    port = free_port(ports)
    cmd = [sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--state-dir", str(state_dir),
           "--log-level", "warning", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            get_json(base + "/_emulator/health")
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"server did not start:\n{proc.stdout.read() if proc.stdout else ''}") from None
            time.sleep(0.05)


@contextmanager
def running_server(state_dir: Path, *args: str, env: dict | None = None, ports: int = 1) -> Iterator[str]:
    proc, base = start_server(state_dir, *args, env=env, ports=ports)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def holding_one_worker(base: str) -> Iterator[Callable[..., dict]]:
    """A connection whose request is not sent yet: the sync worker that accepted it waits for the request,
    so that every other request goes to the other worker, whichever the kernel would have woken, until
    `ask(path, headers)` sends it; the held worker answers, and `ask` returns its JSON."""
    parts = urlsplit(base)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)

    def ask(path: str, headers: dict | None = None) -> dict:
        lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
                 *(f"{k}: {v}" for k, v in (headers or {}).items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        assert response.status == 200, body
        return json.loads(body)

    try:
        yield ask
    finally:
        sock.close()
