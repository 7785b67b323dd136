"""Credentials and the error envelope (notes §2 and §9; the envelope is an emulator convention)."""

from __future__ import annotations

from .conftest import day


def assert_envelope(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status
    assert response.content_type == "application/json"
    body = response.get_json()
    assert body["status"] == "error" and body["message"]
    assert isinstance(body["error"], list) and body["error"]
    if field is not None:
        assert field in [e["field"] for e in body["error"]], body
    return body


def test_v51_needs_the_api_key_header_with_an_underscore(client, key):
    """notes §2: v5.1 authenticates with the header `api_key`."""
    url = f"/netcore/v5.1/stats?startdate={day(-1)}"
    assert_envelope(client.get(url), 401, "api_key")
    assert_envelope(client.get(url, headers={"api_key": "wrong"}), 401, "api_key")
    assert client.get(url, headers={"api_key": key}).status_code == 200


def test_v6_needs_a_bearer_key_and_not_the_v51_header(client, key):
    """notes §2: v6 authenticates with Authorization: Bearer <Email API key>."""
    url = f"/netcore/v6/events?start_date={day(-1)}"
    assert_envelope(client.get(url, headers={"api_key": key}), 401, "Authorization")
    assert_envelope(client.get(url, headers={"Authorization": "Bearer nope"}), 401, "Authorization")
    assert client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_unknown_sub_account_is_forbidden(client, v6):
    """notes §4.2: an optional sub-account header; one that is not ours gets 403."""
    url = f"/netcore/v6/events?start_date={day(-1)}"
    assert_envelope(client.get(url, headers={**v6, "subaccount": "someone-else"}), 403, "subaccount")
    assert client.get(url, headers={**v6, "subaccount": "emulator-sub"}).status_code == 200


def test_unknown_path_and_wrong_method_answer_in_the_envelope(client, v51):
    """Never a Flask HTML page: 404 and 405 (the SDKs expect 405 "Invalid input") in the envelope."""
    assert_envelope(client.get("/netcore/v5.1/nothing", headers=v51), 404)
    response = client.post(f"/netcore/v5.1/events?startdate={day(-1)}", headers=v51)
    assert_envelope(response, 405)
    assert "GET" in response.headers["Allow"]


def test_bad_input_names_the_field_and_the_rule(client, v51):
    body = assert_envelope(client.get(f"/netcore/v5.1/events?startdate={day(-1)}&limit=0", headers=v51),
                           400, "limit")
    assert ">= 1" in body["message"]
    assert_envelope(client.get("/netcore/v5.1/events", headers=v51), 400, "startdate")
    assert_envelope(client.get("/netcore/v5.1/stats?startdate=2026-02-31", headers=v51), 400, "startdate")
    assert_envelope(client.get(f"/netcore/v5.1/events?startdate={day(-1)}&events=open,bogus", headers=v51),
                    400, "events")
    assert_envelope(client.get(f"/netcore/v5.1/events?startdate={day(-1)}&enddate={day(-3)}", headers=v51),
                    400, "enddate")
    assert_envelope(client.get(f"/netcore/v5.1/stats?startdate={day(-1)}&aggregated_by=year", headers=v51),
                    400, "aggregated_by")


def test_an_aggregate_event_must_come_alone(client, v51):
    """notes §4.1: total_* aggregates "must be passed alone"; combining them returns an error."""
    base = f"/netcore/v5.1/events?startdate={day(-1)}"
    assert client.get(base + "&events=total_opened", headers=v51).status_code == 200
    assert_envelope(client.get(base + "&events=total_opened,click", headers=v51), 400, "events")


def test_start_date_outside_the_90_day_retention_is_refused(client, v51, v6):
    """notes §3.1 (get_stats): events data is kept for the last 90 days only."""
    assert client.get(f"/netcore/v5.1/events?startdate={day(-90)}&limit=1", headers=v51).status_code == 200
    body = assert_envelope(client.get(f"/netcore/v5.1/events?startdate={day(-91)}", headers=v51), 400,
                           "startdate")
    assert "90 days" in body["message"]
    assert_envelope(client.get(f"/netcore/v6/events?start_date={day(-91)}", headers=v6), 400, "start_date")
    assert_envelope(client.get(f"/netcore/v5.1/stats?startdate={day(1)}", headers=v51), 400, "startdate")


def test_v51_limit_maximum_is_configurable(client, v51):
    """notes §8: the sources disagree on the v5.1 maximum (1000 vs 5000); the default maximum is 1000."""
    base = f"/netcore/v5.1/events?startdate={day(-1)}"
    assert client.get(base + "&limit=1000", headers=v51).status_code == 200
    assert_envelope(client.get(base + "&limit=1001", headers=v51), 400, "limit")


def test_extreme_but_valid_dates_never_give_a_server_error(client, v51, v6):
    """A far-future enddate or end_time is accepted (nothing happens there); never a 500."""
    assert client.get(f"/netcore/v5.1/events?startdate={day(-1)}&enddate=9999-12-31&limit=1",
                      headers=v51).status_code == 200
    assert client.get(f"/netcore/v5.1/stats?startdate={day(-1)}&enddate=9999-12-31", headers=v51).status_code == 200
    assert client.get(f"/netcore/v6/events?start_date={day(-1)}&end_time=9999-12-31 23:59:59&limit=1",
                      headers=v6).status_code == 200
    assert_envelope(client.get(f"/netcore/v6/events?start_date={day(-1)}&start_time=0001-01-01 00:00:00",
                               headers=v6), 400, "start_time")
    assert_envelope(client.post("/netcore/v6/logs/download", data="{not json", headers=v6,
                                content_type="application/json"), 400)
