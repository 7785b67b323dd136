"""ExpertSender failure scenarios: 5xx bursts, opt-in 429, truncated CSV streams, slow answers."""

from __future__ import annotations

import http.client
import urllib.request

import pytest

from emulator.faults import RequestInfo
from tests.e2e.server import get_json, running_server

from .conftest import DAY


def test_5xx_burst_then_recovery(es, client):
    client.put("/_emulator/scenario", json={"name": "expertsender-5xx-burst"})
    codes = [es("/v2/Api/Time").status_code for _ in range(6)]
    assert codes == [200, 500, 503, 503, 200, 200]


def test_opt_in_429_carries_retry_after_in_xml(es, client, core):
    assert all(es("/v2/Api/Time").status_code == 200 for _ in range(10))  # none by default
    client.put("/_emulator/scenario", json={"name": "expertsender-429"})
    answers = [es("/v2/Api/Time") for _ in range(7)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and limited[0].headers["Retry-After"] == "1"
    assert b"<Code>429</Code>" in limited[0].data and limited[0].content_type == "text/xml; charset=utf-8"


def test_slow_scenario_delays_every_call(core):
    core.faults.activate(["expertsender-slow"])
    decision = core.faults.decide(RequestInfo("expertsender", "GET", "/v2/Api/Activities", {}))
    assert decision.delay_ms == 2000 and decision.status is None


@pytest.mark.gunicorn
def test_truncated_stream_drops_the_connection_mid_csv(tmp_path):
    with running_server(tmp_path / "s", "--scenario", "expertsender-truncated-stream") as base:
        get_json(base + "/_emulator/clock", method="POST", body={"set": "2026-03-12T09:00:00Z"})
        url = f"{base}/expertsender/v2/Api/Activities?apiKey=test_api_key1&date={DAY}&type=Opens"
        first = urllib.request.urlopen(url, timeout=10).read()
        assert first.count(b"\r\n") > 100  # the first call is whole
        with pytest.raises(http.client.IncompleteRead) as info:
            urllib.request.urlopen(url, timeout=10).read()
        assert len(info.value.partial) == 1024
        assert first.startswith(info.value.partial)
