"""The official Python SDK (PyPI `pepipost` 5.0.0, notes §7), unmodified, against the emulator on loopback:
its base URI pointed at /netcore/v5.1, its `api_key` header, its default query parameters.

The server is the real `email-events-emulator serve` (gunicorn): werkzeug's development server drops
headers with underscores, such as Netcore's `api_key`, before the app sees them.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from emulator.settings import DEFAULT_NETCORE_API_KEY
from tests.e2e.server import get_json, running_server

from .conftest import NOW, TODAY, day

pepipost = pytest.importorskip("pepipost")
from pepipost.configuration import Configuration
from pepipost.exceptions.api_exception import APIException
from pepipost.pepipost_client import PepipostClient


@pytest.fixture
def sdk(tmp_path):
    saved = (Configuration.base_uri, Configuration.api_key)
    with running_server(tmp_path / "state", "--scale", "0.2", "--workers", "1") as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": NOW.isoformat()})
        Configuration.base_uri = base + "/netcore/v5.1"
        try:
            yield PepipostClient(DEFAULT_NETCORE_API_KEY)
        finally:
            Configuration.base_uri, Configuration.api_key = saved


@pytest.mark.gunicorn
def test_sdk_fetches_summary_stats(sdk):
    body = json.loads(sdk.stats.get_stats_get(date.fromisoformat(day(-3)), enddate=day(-1), aggregated_by="day"))
    assert body["status"] == "success"
    datewise = body["data"]["datewise"]
    assert list(datewise) == [day(-3), day(-2), day(-1)]
    assert sum(v["sent"] for v in datewise.values()) == body["data"]["total"]["sent"] > 0


@pytest.mark.gunicorn
def test_sdk_fetches_event_logs_with_its_defaults(sdk):
    """The SDK sends offset=0 and limit=10 unless told otherwise (events_controller.py)."""
    body = json.loads(sdk.events.get_events_get(TODAY, events="open,click", sort="desc"))
    assert body["count"] == 10 and body["scrollid"]
    assert {r["status"] for r in body["data"]} <= {"open", "click"}
    times = [r["modifiedTime"] for r in body["data"]]
    assert times == sorted(times, reverse=True)
    sample = body["data"][0]
    filtered = json.loads(sdk.events.get_events_get(TODAY, email=sample["rcptEmail"], limit=100,
                                                    fromaddress=sample["fromaddress"]))
    assert filtered["data"] and {r["rcptEmail"] for r in filtered["data"]} == {sample["rcptEmail"]}


@pytest.mark.gunicorn
def test_sdk_raises_its_api_exception_on_a_wrong_key(sdk):
    Configuration.api_key = "not-the-key"
    with pytest.raises(APIException) as info:
        sdk.stats.get_stats_get(day(-1))
    assert info.value.response_code == 401
    assert json.loads(info.value.context.response.raw_body)["status"] == "error"
