"""The companion endpoints an Activities pipeline calls (ExpertSender research notes, section 4: Get summary
statistics, Get removed subscribers, Get segments), served from the same world: their figures equal the
rows of "ExpertSender API v2: Get subscriber activity" over the same business-unit days."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .conftest import parse

DAYS = ["2026-03-09", "2026-03-10", "2026-03-11"]
DAY0 = DAYS[0]


def xml_data(response) -> ET.Element:
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    return ET.fromstring(response.data).find("Data")


def activity_rows(es, activity: str, day: str, **params) -> list[dict[str, str]]:
    header, *rows = parse(es("/v2/Api/Activities", date=day, type=activity, **params).data)
    return [dict(zip(header, r)) for r in rows]


def counters(element: ET.Element) -> dict[str, int]:
    names = ("Sent", "Bounced", "Delivered", "Opens", "UniqueOpens", "Clicks", "UniqueClicks", "Clickers",
             "Complaints", "Unsubscribes", "Goals", "GoalsValue")
    assert [child.tag for child in element][-len(names):] == list(names)  # the clients' element order
    return {name: int(element.findtext(name)) for name in names}


def expected(es, days: list[str]) -> dict[str, int]:
    rows = {a: [r for d in days for r in activity_rows(es, a, d)]
            for a in ("Sends", "Bounces", "Opens", "Clicks", "Complaints", "Removals", "Goals")}
    return {"Sent": len(rows["Sends"]), "Bounced": len(rows["Bounces"]),
            "Delivered": len(rows["Sends"]) - len(rows["Bounces"]), "Opens": len(rows["Opens"]),
            "UniqueOpens": len({(r["MessageId"], r["Email"]) for r in rows["Opens"]}),
            "Clicks": len(rows["Clicks"]),
            "UniqueClicks": len({(r["MessageId"], r["Email"], r["Url"]) for r in rows["Clicks"]}),
            "Clickers": len({r["Email"] for r in rows["Clicks"]}), "Complaints": len(rows["Complaints"]),
            "Unsubscribes": sum(1 for r in rows["Removals"] if r["Reason"] == "Subscriber"),
            "Goals": len(rows["Goals"]), "GoalsValue": sum(int(r["GoalValue"]) for r in rows["Goals"])}


def test_summary_statistics_equal_the_activities_rows_of_the_same_days(es):
    data = xml_data(es("/v2/Api/SummaryStatistics", startDate=DAYS[0], endDate=DAYS[-1]))
    rows = data.findall("SummaryStatistics/SummaryStatistic")
    assert len(rows) == 1 and rows[0].findtext("IsSummaryRow") == "true"
    got = counters(rows[0])
    assert got == expected(es, DAYS)
    assert got["Sent"] > 0 and got["Opens"] > 0 and got["Unsubscribes"] > 0


def test_grouping_by_date_gives_a_row_per_business_unit_day(es):
    data = xml_data(es("/v2/Api/SummaryStatistics", startDate=DAYS[0], endDate=DAYS[-1], grouping="Date"))
    summary, *days = data.findall("SummaryStatistics/SummaryStatistic")
    assert summary.findtext("IsSummaryRow") == "true"
    assert [d.findtext("Date") for d in days] == [f"{d}T00:00:00" for d in DAYS]
    assert counters(days[1]) == expected(es, [DAYS[1]])
    total = counters(summary)
    for name in ("Sent", "Bounced", "Opens", "Clicks", "Complaints", "Unsubscribes", "Goals"):
        assert sum(counters(d)[name] for d in days) == total[name], name


@pytest.mark.parametrize("grouping, column", [("Message", "MessageId"), ("List", "ListId"),
                                              ("Segment", "SegmentName")])
def test_other_groupings_split_the_sends(es, grouping, column):
    data = xml_data(es("/v2/Api/SummaryStatistics", startDate=DAY0, endDate=DAY0, grouping=grouping))
    summary, *groups = data.findall("SummaryStatistics/SummaryStatistic")
    assert groups and all(g.findtext(column) for g in groups)
    assert sum(counters(g)["Sent"] for g in groups) == counters(summary)["Sent"]


def test_scope_narrows_to_one_list(es):
    sends = activity_rows(es, "Sends", DAY0, columns="Extended")
    list_id = sends[0]["ListId"]
    data = xml_data(es("/v2/Api/SummaryStatistics", startDate=DAY0, endDate=DAY0, scope="List",
                       scopeValue=list_id))
    summary = data.find("SummaryStatistics/SummaryStatistic")
    assert counters(summary)["Sent"] == sum(1 for r in sends if r["ListId"] == list_id) > 0


@pytest.mark.parametrize("params", [{"grouping": "Domain"}, {"scope": "Vendor", "scopeValue": "x"},
                                    {"scope": "List"}, {"grouping": "Weekday"}])
def test_unserved_scopes_and_groupings_are_400_in_xml(es, params):
    response = es("/v2/Api/SummaryStatistics", startDate=DAY0, endDate=DAY0, **params)
    assert response.status_code == 400 and b"<ErrorMessage><Code>400</Code>" in response.data


def test_removed_subscribers_are_the_removals_of_the_same_days(es):
    data = xml_data(es("/v2/Api/RemovedSubscribers", startDate=DAYS[0], endDate=DAYS[-1]))
    removed = [(r.findtext("Email"), r.findtext("ListId")) for r in data.iter("RemovedSubscriber")]
    rows = [r for d in DAYS for r in activity_rows(es, "Removals", d, columns="Extended")]
    assert removed and sorted(removed) == sorted((r["Email"], r["ListId"]) for r in rows)
    assert all(r.findtext("UnsubscribedOn").endswith("Z") for r in data.iter("RemovedSubscriber"))
    opt_out = xml_data(es("/v2/Api/RemovedSubscribers", startDate=DAYS[0], endDate=DAYS[-1],
                          removeTypes="OptOutLink"))
    assert len(opt_out.findall("RemovedSubscribers/RemovedSubscriber")) == \
        sum(1 for r in rows if r["Reason"] == "Subscriber")
    one_list = rows[0]["ListId"]
    listed = xml_data(es("/v2/Api/RemovedSubscribers", startDate=DAYS[0], endDate=DAYS[-1], listIds=one_list))
    assert {r.findtext("ListId") for r in listed.iter("RemovedSubscriber")} == {one_list}
    customs = xml_data(es("/v2/Api/RemovedSubscribers", startDate=DAY0, endDate=DAY0, option="Customs"))
    assert all(r.findtext("Id") and r.findtext("Firstname") for r in customs.iter("RemovedSubscriber"))
    assert es("/v2/Api/RemovedSubscribers", removeTypes="Bored").status_code == 400


def test_segments_name_every_segment_id_of_the_activities(es):
    names = {s.findtext("Id"): s.findtext("Name") for s in xml_data(es("/v2/Api/Segments")).iter("Segment")}
    ids = {r["SegmentId"] for r in activity_rows(es, "Sends", DAY0, returnSegmentId="true")}
    assert ids - {"0"} and ids - {"0"} <= set(names)
