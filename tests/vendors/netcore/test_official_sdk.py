"""Netcore Email API: Events API (Fetch Summary Stats, Fetch Event Logs) through the official Python SDK
(PyPI `pepipost` 5.0.0, notes §7), unmodified, against the emulator on loopback:
its `api_key` header, its default query parameters, and both base paths a client meets: the package's own
default `https://api.pepipost.com/v5` with only scheme, host and port changed (the Netcore port of
--vendor-ports), and `/v5.1`, the base of the SDK's GitHub sources (notes §2, "Legacy host").

The server is the real `email-events-emulator serve` (gunicorn): werkzeug's development server drops
headers with underscores, such as Netcore's `api_key`, before the app sees them.
"""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import pytest

from emulator.settings import DEFAULT_NETCORE_API_KEY, VENDORS
from tests.e2e.server import get_json, running_server

from .conftest import NOW, TODAY, day

pepipost = pytest.importorskip("pepipost")
from pepipost.configuration import Configuration
from pepipost.exceptions.api_exception import APIException
from pepipost.pepipost_client import PepipostClient

SDK_DEFAULT_BASE = Configuration.base_uri  # read before any test changes it


def test_the_released_sdk_defaults_to_v5():
    """The package's own Configuration (not the notes' GitHub copy, which says /v5.1) is what users run."""
    assert urlsplit(SDK_DEFAULT_BASE).path == "/v5"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ports = 1 + len(VENDORS)
    with running_server(tmp_path_factory.mktemp("sdk") / "state", "--scale", "0.2", "--workers", "1",
                        "--vendor-ports", ports=ports) as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": NOW.isoformat()})
        yield base


def _netcore_port(base: str) -> int:
    return urlsplit(base).port + 1 + VENDORS.index("netcore")  # Settings.vendor_port


_JOURNAL = {"base": ""}  # the control API base of the session the SDK is pointed at


@pytest.fixture(params=["default /v5, own port", "/netcore/v5.1", "session: /v5, own port",
                        "session: /netcore/v5.1"])
def sdk(request, server):
    """The SDK pointed at the emulator; the "session" cases put a session prefix (docs/sessions.md) in front of
    the path of its base URL, and set that session's clock as the server fixture set the default one's."""
    saved = (Configuration.base_uri, Configuration.api_key)
    session = "/sessions/sdk" if request.param.startswith("session") else ""
    _JOURNAL["base"] = server + session
    get_json(server + session + "/_emulator/clock", method="POST", body={"set": NOW.isoformat()})
    path = request.param.rsplit(" ", 1)[-1]
    if "own port" in request.param:
        parts = urlsplit(SDK_DEFAULT_BASE)  # https://api.pepipost.com/v5: keep the path, swap the host
        host = f"127.0.0.1:{_netcore_port(server)}"
        Configuration.base_uri = urlunsplit(("http", host, session + parts.path, "", ""))
    else:
        Configuration.base_uri = server + session + path
    try:
        yield PepipostClient(DEFAULT_NETCORE_API_KEY)
    finally:
        Configuration.base_uri, Configuration.api_key = saved


def journal(server: str) -> list[dict]:
    """The netcore requests in the journal of the session the SDK is pointed at (on `server`)."""
    assert _JOURNAL["base"].startswith(server)
    return get_json(_JOURNAL["base"] + "/_emulator/journal?vendor=netcore")["items"]


@pytest.mark.gunicorn
def test_sdk_fetches_summary_stats(sdk, server):
    answer = sdk.stats.get_stats_get(date.fromisoformat(day(-3)), enddate=day(-1), aggregated_by="day")
    body = json.loads(answer)
    assert body["status"] == "success"
    datewise = body["data"]["datewise"]
    assert list(datewise) == [day(-3), day(-2), day(-1)]
    assert sum(v["sent"] for v in datewise.values()) == body["data"]["total"]["sent"] > 0
    assert (urlsplit(Configuration.base_uri).path + "/stats").endswith(journal(server)[-1]["path"])


@pytest.mark.gunicorn
def test_sdk_fetches_event_logs_with_its_defaults(sdk, server):
    """The SDK sends offset=0 and limit=10 unless told otherwise (events_controller.py); `sort` orders by
    "email sent time" (Netcore Email API: Fetch Event Logs, notes §4.1), ties by event time."""
    body = json.loads(sdk.events.get_events_get(TODAY, events="open,click", sort="desc"))
    assert body["count"] == 10 and body["scrollid"]
    assert {r["status"] for r in body["data"]} <= {"open", "click"}
    order = [(r["requestedTime"], r["modifiedTime"]) for r in body["data"]]
    assert order == sorted(order, reverse=True)
    sample = body["data"][0]
    filtered = json.loads(sdk.events.get_events_get(TODAY, email=sample["rcptEmail"], limit=100,
                                                    fromaddress=sample["fromaddress"]))
    assert filtered["data"] and {r["rcptEmail"] for r in filtered["data"]} == {sample["rcptEmail"]}
    assert (urlsplit(Configuration.base_uri).path + "/events").endswith(journal(server)[-1]["path"])


@pytest.mark.gunicorn
@pytest.mark.parametrize("call", ["stats", "events"])
def test_sdk_raises_its_api_exception_on_a_wrong_key(sdk, server, call):
    """A wrong key takes the SDK's 401/403 branch, APIException('API Response') (stats_controller.py and
    events_controller.py of `pepipost` 5.0.0; notes §9)."""
    Configuration.api_key = "not-the-key"
    with pytest.raises(APIException) as info:
        if call == "stats":
            sdk.stats.get_stats_get(day(-1))
        else:
            sdk.events.get_events_get(TODAY)
    assert info.value.response_code == 401
    assert str(info.value) == "API Response"
    assert json.loads(info.value.context.response.raw_body)["status"] == "error"
    assert journal(server)[-1]["status"] == 401
