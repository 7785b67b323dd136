"""A big export through a real gunicorn worker is rendered by forked processes (emulator.parallel, issue 7)
and arrives byte for byte as the in-process renderer writes it, with no process left behind."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from emulator.app import create_app
from emulator.clock import parse_rfc3339
from emulator.settings import DEFAULT_NETCORE_API_KEY, Settings

from .server import children, get_json, running_server

pytestmark = pytest.mark.gunicorn

NOW = "2026-03-10T12:00:00Z"
WINDOW = {"start_date": "2026-03-07", "end_date": "2026-03-08"}  # two days at scale 1: forked (MIN_WORK)
AUTH = {"Authorization": f"Bearer {DEFAULT_NETCORE_API_KEY}"}


def _in_process_body(tmp_path) -> bytes:
    app = create_app(Settings(state_dir=str(tmp_path / "in-process"), export_processes=1))
    app.config["EMULATOR_CORE"].clock.set(parse_rfc3339(NOW))
    c = app.test_client()
    job = c.post("/netcore/v6/logs/download", headers=AUTH, json=WINDOW).json["data"]
    app.config["EMULATOR_CORE"].clock.advance(3600)
    url = urlsplit(c.get(urlsplit(job["status_url"]).path, headers=AUTH).json["data"]["download_url"])
    return c.get(f"{url.path}?{url.query}").data


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_big_download_is_rendered_by_two_processes_and_is_byte_identical(tmp_path):
    with running_server(tmp_path / "s", "--workers", "1", env={"EMULATOR_EXPORT_PROCESSES": "2"}) as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": NOW})
        job = get_json(base + "/netcore/v6/logs/download", method="POST", headers=AUTH, body=WINDOW)["data"]
        get_json(base + "/_emulator/clock", method="POST", body={"advance": 3600})
        url = get_json(job["status_url"], headers=AUTH)["data"]["download_url"]
        with urllib.request.urlopen(url, timeout=60) as resp:
            body = resp.read()
        health = get_json(base + "/_emulator/health")
        assert health["export_processes"] == 2
        assert health["render_processes_started"] >= 2, "the download was rendered in the worker itself"
        assert health["render_process_peak_rss_mb"] > 0
        assert children(health["worker_pid"]) == [], "a rendering process outlived its export"
    assert body.count(b"\n") > 20_000
    assert hashlib.sha256(body).digest() == hashlib.sha256(_in_process_body(tmp_path)).digest()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_threaded_worker_forks_for_two_downloads_at_once(tmp_path):
    """gthread workers: two big downloads stream at the same time from one worker, each forking its own
    processes beside the other's threads; both arrive whole and identical."""
    with running_server(tmp_path / "s", "--workers", "1", "--threads", "4",
                        env={"EMULATOR_EXPORT_PROCESSES": "2"}) as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": NOW})
        jobs = [get_json(base + "/netcore/v6/logs/download", method="POST", headers=AUTH, body=WINDOW)["data"]
                for _ in range(2)]
        get_json(base + "/_emulator/clock", method="POST", body={"advance": 3600})
        urls = [get_json(job["status_url"], headers=AUTH)["data"]["download_url"] for job in jobs]

        def fetch(url: str) -> bytes:
            with urllib.request.urlopen(url, timeout=120) as resp:
                return resp.read()

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(fetch, urls)
        health = get_json(base + "/_emulator/health")
        assert health["render_processes_started"] >= 4
        assert children(health["worker_pid"]) == []
    assert first == second
    assert hashlib.sha256(first).digest() == hashlib.sha256(_in_process_body(tmp_path)).digest()
