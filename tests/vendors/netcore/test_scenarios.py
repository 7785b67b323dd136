"""Netcore fault scenarios (issue 6): 429 bursts with Retry-After, 5xx bursts, slow pages, expired scroll
ids and download job failures, all answered in the Netcore envelope."""

from __future__ import annotations

from .conftest import day

STATS = "/netcore/v5.1/stats"


def test_429_burst_carries_retry_after_then_recovers(client, core, v51):
    core.faults.activate(["netcore-429-burst"])
    url = f"{STATS}?startdate={day(-1)}"
    codes = [client.get(url, headers=v51) for _ in range(10)]
    assert [r.status_code for r in codes] == [200] * 3 + [429] * 5 + [200] * 2
    limited = codes[3]
    assert limited.headers["Retry-After"] == "2"
    assert limited.get_json()["status"] == "error"


def test_5xx_burst_answers_503_in_the_envelope(client, core, v51):
    core.faults.activate(["netcore-5xx-burst"])
    url = f"{STATS}?startdate={day(-1)}"
    codes = [client.get(url, headers=v51).status_code for _ in range(8)]
    assert codes == [200] * 3 + [503] * 3 + [200] * 2


def test_rate_limited_scenario_limits_bursts_on_the_virtual_clock(client, core, v51):
    core.faults.activate(["rate-limited"])
    url = f"{STATS}?startdate={day(-1)}"
    codes = [client.get(url, headers=v51).status_code for _ in range(12)]
    assert codes.count(429) >= 1
    core.clock.advance(2)
    assert client.get(url, headers=v51).status_code == 200


def test_slow_pages_scenario_delays_log_pages_only(core):
    """The rule adds 500 ms to every v5.1 and v6 log page and to nothing else (no timed assertion)."""
    from emulator.faults import RequestInfo

    core.faults.activate(["netcore-slow-pages"])

    def delay(path: str) -> int:
        return core.faults.decide(RequestInfo("netcore", "GET", path, {})).delay_ms

    assert delay("/v5.1/events") == delay("/v6/events") == 500
    assert delay("/v5.1/stats") == delay("/v6/logs/download/x") == 0


def test_expired_scroll_ids_scenario(client, core, v51):
    core.faults.activate(["netcore-expired-scroll-ids"])
    params = {"startdate": day(-1), "limit": 5}
    token = client.get("/netcore/v5.1/events", query_string=params, headers=v51).get_json()["scrollid"]
    follow = client.get("/netcore/v5.1/events", query_string={**params, "scrollid": token}, headers=v51)
    assert follow.status_code == 400 and "expired" in follow.get_json()["message"]


def test_download_job_failure_scenario(client, core, v6):
    core.faults.activate(["netcore-download-fails"])
    created = client.post("/netcore/v6/logs/download", json={"start_date": day(-1)}, headers=v6)
    assert created.status_code == 202
    job = created.get_json()["data"]
    core.clock.advance(120)
    status = client.get(job["status_url"], headers=v6).get_json()["data"]
    assert status["state"] == "failed" and status["error"]
    assert client.get(f"/netcore/v6/logs/download/{job['request_id']}/file?signature=x").status_code in (403, 404)


def test_oversized_download_fails_as_too_large(client, core, v6):
    core.faults.activate(["oversized-request"])
    job = client.post("/netcore/v6/logs/download", json={"start_date": day(-1)}, headers=v6).get_json()["data"]
    core.clock.advance(120)
    status = client.get(job["status_url"], headers=v6).get_json()["data"]
    assert status["state"] == "failed" and "larger" in status["error"]


def test_expired_poll_urls_scenario_expires_downloads_early(client, core, v6):
    core.faults.activate(["expired-poll-urls"])
    job = client.post("/netcore/v6/logs/download", json={"start_date": day(-1)}, headers=v6).get_json()["data"]
    core.clock.advance(200)
    assert client.get(job["status_url"], headers=v6).status_code == 410
