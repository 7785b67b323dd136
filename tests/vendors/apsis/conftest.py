"""APSIS One test helpers: a client with a token on a fixed virtual clock, and export round trips."""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from emulator.app import create_app
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET, Settings

NOW = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)  # a fixed virtual "now" for every test
CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": DEFAULT_APSIS_CLIENT_ID,
    "client_secret": DEFAULT_APSIS_CLIENT_SECRET,
}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def local(url: str) -> str:
    """The path and query of an absolute URL the emulator handed out (the test client has no host)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Apsis:
    client: Any
    core: Any

    def token(self) -> str:
        r = self.client.post("/apsis/oauth/token", json=CREDENTIALS)
        assert r.status_code == 200, r.data
        return r.json["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        if not hasattr(self, "_headers"):
            self._headers = {"Authorization": f"Bearer {self.token()}"}
        return self._headers

    def refresh(self) -> None:
        """A new token (after the virtual clock passed the old one's exp)."""
        self._headers = {"Authorization": f"Bearer {self.token()}"}

    def get(self, path: str, **kw):
        return self.client.get("/apsis" + path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, body: Any, **kw):
        return self.client.post(
            "/apsis" + path, json=body, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def wait_for_report(self, report_id: str, max_polls: int = 12) -> dict[str, Any]:
        """Poll the status with exponential back-off, moving the virtual clock instead of sleeping."""
        delay = 1.0
        for _ in range(max_polls):
            r = self.get(f"/emails/reports/{report_id}")
            assert r.status_code == 200, r.data
            if r.json["status"] != "pending":
                return r.json
            self.core.clock.advance(delay)
            delay *= 2
        raise AssertionError("export never left pending")

    def download_csv(self, url: str, headers: dict[str, str] | None = None) -> list[list[str]]:
        r = self.client.get(local(url), headers=headers or {})
        assert r.status_code == 200, r.data
        assert r.content_type == "application/gzip"
        text = gzip.decompress(r.data).decode("utf-8")
        return list(csv.reader(io.StringIO(text)))

    def poll_profiles(self, url: str, max_polls: int = 12, **kw):
        delay = 1.0
        for _ in range(max_polls):
            r = self.client.get(local(url), headers={**self.headers, **kw.pop("headers", {})})
            if r.status_code != 404:
                return r
            self.core.clock.advance(delay)
            delay *= 2
        raise AssertionError("poll URL never left 404")


def make_apsis(tmp_path, **overrides) -> Apsis:
    app = create_app(Settings(state_dir=str(tmp_path / "state"), seed=42, **overrides))
    core = app.config["EMULATOR_CORE"]
    # Freeze the wall clock under the virtual one: time moves only when a test advances it.
    core.clock._real_time = NOW.timestamp
    core.clock.reset()
    return Apsis(app.test_client(), core)


@pytest.fixture
def apsis(tmp_path) -> Apsis:
    return make_apsis(tmp_path)
