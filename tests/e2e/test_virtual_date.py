"""Under gunicorn (the real `serve`), an answer carries exactly one `Date`: the virtual clock's, not
gunicorn's own (issue 23, "Everywhere")."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from tests.e2e.server import get_json, running_server


@pytest.mark.gunicorn
def test_one_date_header_on_the_virtual_clock(tmp_path):
    with running_server(tmp_path / "state", "--workers", "1") as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": "2031-07-04T10:20:00Z"})
        parts = urlsplit(base)
        for path in ("/_emulator/health", "/expertsender/v2/Api/Time?apiKey=wrong", "/netcore/v5.1/stats"):
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            dates = [v for k, v in response.getheaders() if k.lower() == "date"]
            conn.close()
            assert len(dates) == 1 and dates[0].startswith("Fri, 04 Jul 2031 10:2"), (path, dates)
