"""A bare Flask app answering every GET with the same bytes (BENCH_BODY): the floor the emulator's own request
path is compared with, under the same server (benchmarks/peers.py)."""

from __future__ import annotations

import os

from flask import Flask, Response

BODY = os.environ.get("BENCH_BODY", '{"status": "ok"}').encode()

app = Flask(__name__)


@app.get("/<path:_path>")
def answer(_path: str) -> Response:
    return Response(BODY, content_type="application/json")
