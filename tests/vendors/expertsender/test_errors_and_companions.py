"""XML errors in ExpertSender's format, and the companion endpoints agreeing with Activities."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .conftest import DAY, parse


def error_of(response) -> tuple[int, str]:
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert int(response.headers["Content-Length"]) == len(response.data) > 0  # a public client needs it
    root = ET.fromstring(response.data)
    code = int(root.findtext("ErrorMessage/Code"))
    assert code == response.status_code  # "Code" equals the HTTP status (notes)
    return code, root.findtext("ErrorMessage/Message")


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_invalid_api_key_is_403(es, key):
    params = {"date": DAY, "type": "Sends"}
    response = es("/v2/Api/Activities", **params, apiKey=key) if key else es("/v2/Api/Activities", **params, apiKey="")
    assert error_of(response) == (403, "Supplied API key is invalid.")


@pytest.mark.parametrize("params, field", [
    ({"type": "Sends"}, "date"),
    ({"type": "Sends", "date": "2026-13-01"}, "date"),
    ({"type": "Sends", "date": "10.03.2026"}, "date"),
    ({"date": DAY}, "type"),
    ({"date": DAY, "type": "Unsubscribes"}, "type"),
    ({"date": DAY, "type": "Sends", "channel": "Fax"}, "channel"),
    ({"date": DAY, "type": "Sends", "columns": "Everything"}, "columns"),
    ({"date": DAY, "type": "Sends", "returnGuid": "yes"}, "returnGuid"),
    ({"date": DAY, "type": "Subscriptions", "tags": "newsletter"}, "tags"),
    ({"date": DAY, "type": "Confirmations", "tags": "newsletter"}, "tags"),
    ({"date": DAY, "type": "Sends", "tags": "newsletter,A/B"}, "tags"),
])
def test_bad_parameters_are_400_naming_the_parameter(es, params, field):
    code, message = error_of(es("/v2/Api/Activities", **params))
    assert code == 400 and f"'{field}'" in message


def test_unknown_parameters_are_ignored(es):
    assert es("/v2/Api/Activities", date=DAY, type="Sends", foo="bar", sortBy="x").status_code == 200


def test_unknown_path_and_method_answer_in_xml(es, client):
    assert error_of(es("/v2/Api/Nothing"))[0] == 404
    response = client.post("/expertsender/v2/Api/Activities?apiKey=test_api_key1")
    assert error_of(response)[0] == 405 and "GET" in response.headers["Allow"]


def xml_data(response):
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/xml; charset=utf-8"
    return ET.fromstring(response.data).find("Data")


def test_time_is_the_virtual_now(es):
    assert xml_data(es("/v2/Api/Time")).text.startswith("2026-03-12T09:00:0")


def test_every_list_and_message_in_activities_exists_in_the_lookups(es):
    lists = {int(e.findtext("Id")) for e in xml_data(es("/v2/Api/Lists")).iter("List")}
    header, *rows = parse(es("/v2/Api/Activities", date=DAY, type="Sends", columns="Extended").data)
    assert {int(r[header.index("ListId")]) for r in rows} <= lists
    messages = {int(e.findtext("Id")) for e in xml_data(es("/v2/Api/Messages", startDate="2026-03-08",
                                                          endDate=DAY)).iter("Message")}
    assert {int(r[header.index("MessageId")]) for r in rows} <= messages
    one = xml_data(es(f"/v2/Api/Lists/{next(iter(lists))}"))
    assert int(one.findtext("Size")) > 0 and one.findtext("OptInMode") in ("SingleOptIn", "DoubleOptIn")


def test_message_statistics_equal_the_activities_counts(es):
    """A message's statistics equal the counts of its Activities rows over the same days (issue 5)."""
    days = ["2026-03-09", DAY, "2026-03-11"]
    _, *sends = parse(es("/v2/Api/Activities", date="2026-03-09", type="Sends").data)
    message_id = sends[0][3]
    stats = xml_data(es(f"/v2/Api/MessageStatistics/{message_id}", startDate=days[0], endDate=days[-1]))

    def count(activity: str, reason: str | None = None) -> int:
        total = 0
        for d in days:
            header, *rows = parse(es("/v2/Api/Activities", date=d, type=activity).data)
            total += sum(1 for r in rows if r[header.index("MessageId")] == message_id and reason in (None, r[3]))
        return total

    assert int(stats.findtext("Sent")) == count("Sends") > 0
    assert int(stats.findtext("Opens")) == count("Opens")
    assert int(stats.findtext("Clicks")) == count("Clicks")
    assert int(stats.findtext("Bounced")) == count("Bounces")
    assert int(stats.findtext("Complaints")) == count("Complaints")
    assert int(stats.findtext("Unsubscribes")) == count("Removals", "Subscriber")
    assert int(stats.findtext("UniqueOpens")) <= int(stats.findtext("Opens"))


def test_unknown_message_or_list_is_404(es):
    assert error_of(es("/v2/Api/Messages/5"))[0] == 404
    assert error_of(es("/v2/Api/MessageStatistics/2147483646"))[0] == 404
    assert error_of(es("/v2/Api/Lists/999999"))[0] == 404


def test_bounce_list_csv_agrees_with_bounce_activities(es):
    header, *rows = parse(es("/v2/Api/Bounces", startDate=DAY, endDate=DAY).data)
    assert header == ["Date", "Email", "Phone", "BounceCode", "BounceReason", "BounceType"]
    _, *activities = parse(es("/v2/Api/Activities", date=DAY, type="Bounces").data)
    assert [r[:2] for r in rows] == [r[:2] for r in activities]
    assert {r[5] for r in rows} <= {"Hard", "Soft"}
    # a hard bounce ends an address's lifecycle: a week of them (one day of the world may hold none)
    _, *hard = parse(es("/v2/Api/Bounces", startDate="2026-03-04", endDate=DAY, bounceType="1").data)
    assert hard and all(r[5] == "Hard" for r in hard)
