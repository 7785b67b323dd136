"""Fetch Event Logs (notes §4): records, filters, sort and scroll pagination, v5.1 and v6."""

from __future__ import annotations

from .conftest import day, scroll_all

V51 = "/netcore/v5.1/events"
V6 = "/netcore/v6/events"


def keys(rows: list[dict]) -> list[tuple]:
    return [(r["modifiedTime"], r["trid"], r["status"]) for r in rows]


def sent_order(rows: list[dict]) -> list[tuple[str, str]]:
    """`sort` is "based on email sent time" (Netcore Email API: Fetch Event Logs, notes §4.1): the record's
    requestedTime, then (the emulator's documented tie order) the event's time."""
    return [(r["requestedTime"], r["modifiedTime"]) for r in rows]


def test_scroll_pagination_yields_every_event_once_in_order(client, v51):
    """notes §4.1: scroll-based pagination; following the scroll ids gives each row once, in sent-time order
    (ties by event time)."""
    params = {"startdate": day(-2), "enddate": day(-2), "limit": 500}
    rows = scroll_all(client, V51, v51, params)
    big = client.get(V51, query_string={**params, "limit": 1000}, headers=v51).get_json()["data"]
    assert len(rows) > 1000  # several pages
    assert rows[:1000] == big
    assert len(set(keys(rows))) == len(rows)  # no duplicates
    assert sent_order(rows) == sorted(sent_order(rows))
    assert sent_order(rows) != sorted(sent_order(rows), key=lambda k: k[1])  # not simply by event time
    # (a hard bounce ends an address's lifecycle: a day of a small world may hold none, test_lifecycle_netcore)
    assert {r["status"] for r in rows} >= {"processed", "sent", "open", "click", "softbounce"}


def test_desc_scroll_is_the_reverse_of_asc(client, v51, v6):
    """sort=desc orders by sent time, newest first, ties reversed too: the exact reverse of asc (v5.1, v6)."""
    params = {"startdate": day(-2), "enddate": day(-2), "limit": 700, "events": "click,spam,unsubscribe"}
    asc = scroll_all(client, V51, v51, params)
    desc = scroll_all(client, V51, v51, {**params, "sort": "desc"})
    assert asc and desc == list(reversed(asc))
    assert sent_order(desc) == sorted(sent_order(desc), reverse=True)
    v6_params = {"start_date": day(-2), "end_date": day(-2), "limit": 700, "events": "click,spam,unsubscribe"}
    assert scroll_all(client, V6, v6, v6_params, cursor="scrollId") == asc
    assert scroll_all(client, V6, v6, {**v6_params, "sort": "desc"}, cursor="scrollId") == desc


def test_a_scroll_lists_its_first_pages_snapshot_while_new_events_arrive(client, core, v51):
    """Issue 6: following a scroll yields every event once, without duplicates or gaps, also while new
    events arrive (virtual time). In sent-time order a late event of an early message would fall behind the
    position, so a scroll lists the events that existed at its first page; a new query lists the rest."""
    params = {"startdate": day(0), "events": "processed,sent,open", "limit": 50}
    snapshot = scroll_all(client, V51, v51, {**params, "limit": 1000})  # everything at the first page's now
    page = client.get(V51, query_string=params, headers=v51).get_json()
    followed = list(page["data"])
    for _ in range(40):  # nine virtual minutes pass between pages: new events keep arriving
        core.clock.advance(540)
        page = client.get(V51, query_string={**params, "scrollid": page["scrollid"]}, headers=v51).get_json()
        followed.extend(page["data"])
    followed += scroll_all(client, V51, v51, {**params, "scrollid": page["scrollid"]})  # the rest
    assert keys(followed) == keys(snapshot)
    later = scroll_all(client, V51, v51, {**params, "limit": 1000})
    assert any(r["modifiedTime"] > "2026-03-15 20:00:00" for r in later)  # NOW was 17:40 local
    assert set(keys(snapshot)) < set(keys(later))


def test_offset_skips_rows_of_the_first_page(client, v51):
    """notes §4.1: offset 0-1000, default 0."""
    params = {"startdate": day(-1), "enddate": day(-1), "limit": 30}
    all_rows = client.get(V51, query_string=params, headers=v51).get_json()["data"]
    shifted = client.get(V51, query_string={**params, "offset": 10, "limit": 20}, headers=v51).get_json()
    assert shifted["data"] == all_rows[10:30]


def test_default_page_size_is_10_in_v51_and_50_in_v6(client, v51, v6):
    """notes §8 (v5.1 param box and SDK: 10) and §4.2 (v6: default 50)."""
    assert client.get(V51, query_string={"startdate": day(-1)}, headers=v51).get_json()["count"] == 10
    assert client.get(V6, query_string={"start_date": day(-1)}, headers=v6).get_json()["count"] == 50


def test_expired_or_foreign_scroll_id_is_a_clear_error(client, core, v51, v6):
    params = {"startdate": day(-1), "limit": 5}
    token = client.get(V51, query_string=params, headers=v51).get_json()["scrollid"]
    core.clock.advance(core.settings.netcore_scroll_ttl + 1)
    expired = client.get(V51, query_string={**params, "scrollid": token}, headers=v51)
    assert expired.status_code == 400
    assert expired.get_json()["error"][0] == {"field": "scrollid",
                                              "message": "has expired: start again without a scroll id"}
    bogus = client.get(V51, query_string={**params, "scrollid": "abc.def"}, headers=v51)
    assert bogus.status_code == 400 and "scrollid" in bogus.get_json()["message"]
    fresh = client.get(V51, query_string=params, headers=v51).get_json()["scrollid"]
    cross = client.get(V6, query_string={"start_date": day(-1), "scrollId": fresh}, headers=v6)
    assert cross.status_code == 400 and cross.get_json()["error"][0]["field"] == "scrollId"


def test_events_filter_and_aggregates_select_statuses(client, v51):
    """notes §4.1: bounce = hard + soft; total_opened = open, click, unsubscribe, spam."""
    base = {"startdate": day(-3), "enddate": day(-1), "limit": 1000}
    bounces = scroll_all(client, V51, v51, {**base, "events": "bounce"})
    assert bounces and {r["status"] for r in bounces} == {"hardbounce", "softbounce"}
    opened = scroll_all(client, V51, v51, {**base, "events": "total_opened"})
    assert {r["status"] for r in opened} <= {"open", "click", "unsubscribe", "spam"}
    assert {"open", "click"} <= {r["status"] for r in opened}


def test_records_carry_the_v2_log_fields(client, v51):
    """notes §4.1: trid, rcptEmail, fromaddress, times, status, size, remarks, xapiheader, tags, opens, clicks."""
    rows = client.get(V51, query_string={"startdate": day(-1), "events": "click", "limit": 3},
                      headers=v51).get_json()["data"]
    row = rows[0]
    assert row["status"] == "click" and row["clicks"][0]["link"].startswith("https://")
    assert row["clicks"][0]["time"] == row["modifiedTime"] and row["opens"] == []
    assert isinstance(row["trid"], int) and "@" in row["rcptEmail"] and "@" in row["fromaddress"]
    assert row["xapiheader"] and row["size"] > 0


def test_text_filters_match_recipient_sender_subject_and_header(client, v51, v6):
    base = {"startdate": day(-2), "enddate": day(-1), "limit": 1000}
    # A click, so that the click filters below find at least the sample itself.
    sample = client.get(V51, query_string={**base, "events": "click", "limit": 1}, headers=v51).get_json()["data"][0]
    by_email = scroll_all(client, V51, v51, {**base, "email": sample["rcptEmail"].upper()})
    assert by_email and {r["rcptEmail"] for r in by_email} == {sample["rcptEmail"]}
    for name in ("subject", "fromaddress", "xapiheader"):
        got = scroll_all(client, V51, v51, {**base, "events": "click", name: sample[name]})
        assert got and {r[name] for r in got} == {sample[name]}
    v6_rows = scroll_all(client, V6, v6, {"start_date": day(-2), "end_date": day(-1), "limit": 1000,
                                          "message_id": sample["message_id"]}, cursor="scrollId")
    assert v6_rows and {r["message_id"] for r in v6_rows} == {sample["message_id"]}
    domain = sample["rcptEmail"].split("@")[1]
    v6_domain = client.get(V6, query_string={"start_date": day(-1), "to_domain": domain}, headers=v6).get_json()
    assert v6_domain["data"] and all(r["rcptEmail"].endswith("@" + domain) for r in v6_domain["data"])


def test_v6_time_range_narrows_to_the_minute(client, v6):
    """notes §4.2: date-time range YYYY-MM-DD HH:mm:ss (account time zone)."""
    params = {"start_date": day(-1), "start_time": f"{day(-1)} 15:30:00", "end_time": f"{day(-1)} 16:30:00",
              "limit": 1000}
    rows = scroll_all(client, V6, v6, params, cursor="scrollId")
    assert rows
    assert all(f"{day(-1)} 15:30:00" <= r["modifiedTime"] < f"{day(-1)} 16:30:00" for r in rows)


def test_v6_scheduled_and_cancelled_are_accepted_filters(client, v6):
    """notes §4.2: v6 adds scheduled and cancelled; this world schedules nothing, so no rows."""
    body = client.get(V6, query_string={"start_date": day(-1), "events": "scheduled,cancelled"}, headers=v6)
    assert body.status_code == 200 and body.get_json()["data"] == []


def test_message_filters_return_exactly_the_matching_rows_of_the_unfiltered_logs(client, v51, v6):
    """Filtered scans skip hours no matching message can reach; they must still miss nothing."""
    base = {"startdate": day(-5), "enddate": day(-1), "limit": 1000, "events": "click,spam,unsubscribe,softbounce"}
    everything = scroll_all(client, V51, v51, base)
    sample = everything[len(everything) // 2]
    for name in ("fromaddress", "xapiheader", "subject"):
        expected = [r for r in everything if r[name].lower() == sample[name].lower()]
        got = scroll_all(client, V51, v51, {**base, name: sample[name]})
        desc = scroll_all(client, V51, v51, {**base, name: sample[name], "sort": "desc"})
        assert got == expected and desc == list(reversed(expected)), name
    tag = sample["tags"].split(",")[1]
    v6_params = {"start_date": day(-5), "end_date": day(-1), "limit": 1000, "tags": tag,
                 "events": "click,spam,unsubscribe,softbounce"}
    tagged = scroll_all(client, V6, v6, v6_params, cursor="scrollId")
    assert tagged == [r for r in everything if tag.lower() in r["tags"].lower().split(",")]


def test_pages_carry_count_and_a_scroll_id_but_no_total_records(client, v51, v6):
    """notes §4.1: `totalRecords` belongs to the v2 /v2/logs envelope; v5.1 and v6 page by scroll ids, so
    the emulator answers `count` (rows in this answer) and no total (contract: LogsV51)."""
    v51_page = client.get(V51, query_string={"startdate": day(-1), "limit": 7}, headers=v51).get_json()
    v6_page = client.get(V6, query_string={"start_date": day(-1), "limit": 7}, headers=v6).get_json()
    for page, cursor in ((v51_page, "scrollid"), (v6_page, "scrollId")):
        assert page["count"] == len(page["data"]) == 7 and page[cursor]
        assert "totalRecords" not in page


def test_v5_is_the_v51_api_under_the_sdks_default_base_path(client, v51):
    """PyPI `pepipost` 5.0.0 calls https://api.pepipost.com/v5 (its Configuration.base_uri; notes §2 and §7):
    /v5/events and /v5/stats answer as /v5.1, and a scroll id of one continues on the other."""
    params = {"startdate": day(-1), "enddate": day(-1), "limit": 25}
    v5 = client.get("/netcore/v5/events", query_string=params, headers=v51).get_json()
    same = client.get(V51, query_string=params, headers=v51).get_json()
    assert v5["data"] == same["data"] and v5["data"]
    following = client.get(V51, query_string={**params, "scrollid": v5["scrollid"]}, headers=v51).get_json()
    reference = client.get(V51, query_string={**params, "limit": 50}, headers=v51).get_json()["data"]
    assert v5["data"] + following["data"] == reference
    stats = {p: client.get(f"/netcore/{p}/stats", query_string={"startdate": day(-2)}, headers=v51).get_json()
             for p in ("v5", "v5.1")}
    assert stats["v5"] == stats["v5.1"] and stats["v5"]["status"] == "success"
    assert client.get("/netcore/v5/stats", query_string={"startdate": day(-2)}).status_code == 401
