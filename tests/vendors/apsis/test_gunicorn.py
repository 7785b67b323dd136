"""APSIS One behind a real gunicorn with several workers: tokens, counters and jobs agree across workers."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import pytest

from tests.e2e.server import get_json, running_server

from .conftest import CREDENTIALS

pytestmark = pytest.mark.gunicorn


def call(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_token_limit_and_export_lifecycle_are_shared_by_the_workers(tmp_path):
    """The 10/minute token limit counts across workers; a report created through one worker is polled and
    downloaded through the others (notes: DEV-LIMITS; seed 1)."""
    with running_server(tmp_path / "state", "--workers", "3") as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": "2026-03-10T12:00:05Z"})
        api = base + "/apsis"
        codes = [call(api + "/oauth/token", CREDENTIALS)[0] for _ in range(11)]
        assert codes == [200] * 10 + [429]
        get_json(base + "/_emulator/clock", method="POST", body={"advance": 60})
        status, _, body = call(api + "/oauth/token", CREDENTIALS)
        headers = {"Authorization": "Bearer " + json.loads(body)["access_token"]}
        status, _, body = call(
            api + "/emails/reports",
            {"start_at": "2026-03-06T00:00:00Z", "end_at": "2026-03-06T06:00:00Z"},
            headers,
        )
        assert status == 202
        report_id = json.loads(body)["report_id"]
        get_json(base + "/_emulator/clock", method="POST", body={"advance": 60})
        answers = [
            json.loads(call(f"{api}/emails/reports/{report_id}", headers=headers)[2]) for _ in range(6)
        ]
        assert {a["status"] for a in answers} == {"completed"}
        files = {call(a["file_download_url"])[2] for a in answers}
        assert len(files) == 1, "every worker renders the same bytes"
        text = gzip.decompress(files.pop()).decode()
        assert text.startswith("activity_id,split_id,activity_name,") and text.count("\n") > 10
