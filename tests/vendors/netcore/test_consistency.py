"""Issue 6, "Consistency": for the same range and filters, stats counters equal the number of matching
log rows, and the Download Logs file holds exactly the logged rows."""

from __future__ import annotations

import csv
import io

import pytest

from .conftest import day, scroll_all

COUNTER_EVENTS = {"processed": "processed", "sent": "sent", "open": "open", "click": "click",
                  "bounce": "bounce", "hardbounce": "hardbounce", "softbounce": "softbounce", "spam": "spam",
                  "unsubscribe": "unsubscribe", "dropped": "dropped", "invalid": "invalid",
                  "requested": "processed,dropped,invalid"}


def download_rows(client, core, v6, body: dict) -> list[dict]:
    created = client.post("/netcore/v6/logs/download", json=body, headers=v6)
    assert created.status_code == 202, created.get_json()
    core.clock.advance(120)
    status = client.get(created.get_json()["data"]["status_url"], headers=v6).get_json()["data"]
    assert status["state"] == "ready"
    response = client.get(status["download_url"])
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("first, last", [(-4, -2), (-1, -1)])
def test_stats_counters_equal_the_log_rows_for_every_counter(client, v51, first, last):
    data = client.get("/netcore/v5.1/stats", query_string={"startdate": day(first), "enddate": day(last)},
                      headers=v51).get_json()["data"]
    for counter, events in COUNTER_EVENTS.items():
        if counter in ("processed", "sent", "open", "requested"):
            continue  # the big ones are covered by the total below, row by row
        rows = scroll_all(client, "/netcore/v5.1/events", v51,
                          {"startdate": day(first), "enddate": day(last), "events": events, "limit": 1000})
        assert len(rows) == data["total"][counter], counter
    everything = scroll_all(client, "/netcore/v5.1/events", v51,
                            {"startdate": day(first), "enddate": day(last), "limit": 1000})
    by_status = {}
    for row in everything:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    for status in ("processed", "sent", "open", "click", "hardbounce", "softbounce", "spam", "unsubscribe",
                   "dropped", "invalid"):
        assert by_status.get(status, 0) == data["total"][status], status
    # and per day
    for date, counters in data["datewise"].items():
        day_rows = [r for r in everything if r["modifiedTime"].startswith(date)]
        assert len(day_rows) == sum(counters[s] for s in by_status), date


@pytest.mark.parametrize("filters", [
    {},
    {"events": ["total_opened"]},
    {"events": ["bounce", "dropped", "invalid"], "sort": "desc"},
    {"events": ["click"], "from_domain": None},
])
def test_download_holds_exactly_the_logged_rows(client, core, v6, filters):
    filters = dict(filters)
    params = {"start_date": day(-3), "end_date": day(-2), "limit": 1000}
    if "events" in filters:
        params["events"] = ",".join(filters["events"])
    if "sort" in filters:
        params["sort"] = filters["sort"]
    if "from_domain" in filters:
        sample = client.get("/netcore/v6/events", query_string={**params, "limit": 1}, headers=v6).get_json()
        filters["from_domain"] = params["from_domain"] = sample["data"][0]["fromaddress"].split("@")[1]
    logs = scroll_all(client, "/netcore/v6/events", v6, params, cursor="scrollId")
    body = {"start_date": day(-3), "end_date": day(-2), **filters}
    rows = download_rows(client, core, v6, body)
    assert logs
    # The same rows; the logs by sent time (Fetch Event Logs' `sort`), the file by event time (contract).
    def rows_of(records):
        return sorted((str(r["trid"]), r["status"], r["modifiedTime"], r["rcptEmail"], r["subject"])
                      for r in records)

    assert rows_of(rows) == rows_of(logs)
    times = [r["modifiedTime"] for r in rows]
    assert times == sorted(times, reverse=filters.get("sort") == "desc")
