"""Oversized bodies on a real server, granian and gunicorn (issue 21): each vendor and the control API answer 413 in
their own format as soon as the headers announce too much, without waiting for (or reading) the body;
a chunked body is read no further than the limit. APSIS One's limit is its documented 100 kB (APSIS One
developer reference: "Limits"); the others take up to 1 MiB (an emulator choice)."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from emulator.settings import DEFAULT_NETCORE_API_KEY

from .server import running_server

pytestmark = pytest.mark.gunicorn

TARGETS = [  # path, the error body's content type, a check of its format
    ("/apsis/oauth/token", "application/problem+json", lambda d: d["status"] == 413 and d["detail"]),
    ("/netcore/v6/logs/download", "application/json", lambda d: d["status"] == "error" and d["error"]),
    ("/_emulator/clock", "application/json", lambda d: d["status"] == 413 and d["error"]),
    ("/expertsender/v2/Api/Time", "text/xml; charset=utf-8", None),
]


def send(port: int, path: str, head: str, body: bytes) -> http.client.HTTPResponse:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                  f"Authorization: Bearer {DEFAULT_NETCORE_API_KEY}\r\n{head}\r\n").encode() + body)
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_an_oversized_body_gets_413_in_the_vendors_format_before_it_is_sent(tmp_path, server):
    with running_server(tmp_path / "state", "--server", server) as base:
        port = int(base.rsplit(":", 1)[1])
        for path, content_type, valid in TARGETS:
            # 500 MB announced, 64 kB sent: the answer comes without the rest of the body
            response = send(port, path, "Content-Length: 500000000\r\n", b"x" * 65536)
            body = response.read()
            assert response.status == 413 and response.getheader("Content-Type") == content_type, body
            assert valid(json.loads(body)) if valid else b"<Code>413</Code>" in body
            # chunked, no length: refused once past the limit
            chunk = b"x" * 65536
            chunked = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 20 + b"0\r\n\r\n"
            if path.startswith("/expertsender"):
                continue  # GET-only API: its 405 comes first, and it reads no body
            response = send(port, path, "Transfer-Encoding: chunked\r\n", chunked)
            assert response.status == 413 and response.getheader("Content-Type") == content_type
