"""Fetch Summary Stats (notes §3.1): data.datewise keyed by date, day/week/month buckets in the account
time zone, complete to the last full hour, 1-based offset and limit."""

from __future__ import annotations

from .conftest import day, scroll_all

STATS = "/netcore/v5.1/stats"


def stats(client, headers, path=STATS, **params) -> dict:
    response = client.get(path, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def test_datewise_has_one_bucket_per_day_with_every_counter(client, v51):
    data = stats(client, v51, startdate=day(-6), enddate=day(-1))
    assert list(data["datewise"]) == [day(n) for n in range(-6, 0)]
    for counters in data["datewise"].values():
        assert counters["sent"] > 0  # notes §3.1: data.datewise.<date>.sent is what callers read
        assert counters["bounce"] == counters["hardbounce"] + counters["softbounce"]
        assert counters["requested"] == counters["processed"] + counters["dropped"] + counters["invalid"]
    assert data["total"]["sent"] == sum(c["sent"] for c in data["datewise"].values())
    assert data["timezone"] == "Asia/Kolkata"


def test_weeks_and_months_sum_the_days(client, v51):
    days = stats(client, v51, startdate=day(-20), enddate=day(-1))
    weeks = stats(client, v51, startdate=day(-20), enddate=day(-1), aggregated_by="week")
    months = stats(client, v51, startdate=day(-20), enddate=day(-1), aggregated_by="month")
    assert weeks["total"] == days["total"] == months["total"]
    assert next(iter(weeks["datewise"])) == day(-20)  # the first bucket starts at startdate
    assert list(months["datewise"]) == ["2026-02-23", "2026-03-01"]
    assert sum(w["open"] for w in weeks["datewise"].values()) == days["total"]["open"]


def test_stats_are_complete_to_the_last_full_hour_only(client, core, v51):
    """notes §3.1: stats are computed every hour. At 17:40 local, today counts events before 17:00."""
    today = stats(client, v51, startdate=day(0))
    assert today["complete_until"] == f"{day(0)} 17:00:00"
    logs = scroll_all(client, "/netcore/v5.1/events", v51, {"startdate": day(0), "limit": 1000})
    before = [r for r in logs if r["modifiedTime"] < f"{day(0)} 17:00:00"]
    assert len(before) < len(logs)  # the logs already show the current hour
    assert sum(today["total"][k] for k in ("processed", "sent", "open", "click", "hardbounce", "softbounce",
                                            "spam", "unsubscribe", "dropped", "invalid")) == len(before)
    core.clock.advance(25 * 60)  # 18:05: the 17:00-18:00 hour is now complete
    later = stats(client, v51, startdate=day(0))
    assert later["complete_until"] == f"{day(0)} 18:00:00"
    assert later["total"]["processed"] >= today["total"]["processed"]
    assert later["total"] != today["total"]


def test_offset_and_limit_page_the_buckets(client, v51):
    """notes §3.1: offset is 1-based (default 1), limit 1-100 (default 100); totals cover the whole range."""
    full = stats(client, v51, startdate=day(-9), enddate=day(-1))
    page = stats(client, v51, startdate=day(-9), enddate=day(-1), offset=3, limit=2)
    assert list(page["datewise"]) == [day(-7), day(-6)]
    assert page["datewise"][day(-7)] == full["datewise"][day(-7)]
    assert page["count"] == 9 and page["total"] == full["total"]


def test_v6_stats_are_the_same_data_with_bearer_auth(client, v51, v6):
    assert stats(client, v6, "/netcore/v6/stats", startdate=day(-3)) == stats(client, v51, startdate=day(-3))


def test_stats_follow_the_configured_account_time_zone(tmp_path):
    """notes §3.1: stats are bucketed in the account's time zone (EMULATOR_NETCORE_TIMEZONE)."""
    from emulator.app import create_app
    from emulator.settings import Settings

    from .conftest import NOW

    totals = {}
    for tz in ("Asia/Kolkata", "America/New_York"):
        app = create_app(Settings(state_dir=str(tmp_path / tz.replace("/", "-")), seed=42, scale=0.2,
                                  netcore_timezone=tz))
        core = app.config["EMULATOR_CORE"]
        core.clock.set(NOW)
        headers = {"api_key": core.settings.netcore_api_key}
        totals[tz] = stats(app.test_client(), headers, startdate=day(-2), enddate=day(-2))
    assert totals["Asia/Kolkata"]["timezone"] == "Asia/Kolkata"
    assert totals["Asia/Kolkata"]["total"] != totals["America/New_York"]["total"]
