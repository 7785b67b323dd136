"""Every type with every flag that changes the columns: the header equals the seed's table (issue 5)."""

from __future__ import annotations

import itertools

import pytest

from .conftest import DAY, parse

# The seed's column tables, transcribed literally (the unnamed row is Email); (name, footnote condition).
A, X = "channel=All", "columns=Extended"
SEED_TABLES = {
    "Subscriptions": [("Date", None), ("Email", None), ("Phone", None), ("ListId", None), ("ListName", None),
                      ("CustomSubscriberId", None), ("Channel", A)],
    "Confirmations": [("Date", None), ("Email", None), ("ListId", None), ("ListName", None),
                      ("CustomSubscriberId", None), ("ActivityIp", "returnActivityIp"),
                      ("DeliveryIp", "returnDeliveryIp")],
    "Sends": [("Date", None), ("Email", None), ("Phone", None), ("MessageId", None), ("MessageSubject", None),
              ("CustomSubscriberId", None), ("Channel", A), ("ListId", X), ("ListName", X),
              ("MessageGuid", "returnGuid"), ("MessageContentId", "returnMessageContentId"),
              ("SegmentId", "returnSegmentId"), ("DeliveryIp", "returnDeliveryIp")],
    "Opens": [("Date", None), ("Email", None), ("MessageId", None), ("MessageSubject", None),
              ("CustomSubscriberId", None), ("ListId", X), ("ListName", X), ("MessageGuid", "returnGuid"),
              ("MessageContentId", "returnMessageContentId"), ("SegmentId", "returnSegmentId"),
              ("ActivityIp", "returnActivityIp"), ("DeliveryIp", "returnDeliveryIp")],
    "Clicks": [("Date", None), ("Email", None), ("Phone", None), ("MessageId", None), ("MessageSubject", None),
               ("Url", None), ("CustomSubscriberId", None), ("Channel", A), ("Title", "returnTitle"),
               ("ListId", X), ("ListName", X), ("MessageGuid", "returnGuid"),
               ("MessageContentId", "returnMessageContentId"), ("SegmentId", "returnSegmentId"),
               ("ActivityIp", "returnActivityIp"), ("DeliveryIp", "returnDeliveryIp")],
    "Complaints": [("Date", None), ("Email", None), ("MessageId", None), ("MessageSubject", None),
                   ("CustomSubscriberId", None), ("ListId", X), ("ListName", X), ("MessageGuid", "returnGuid"),
                   ("MessageContentId", "returnMessageContentId"), ("SegmentId", "returnSegmentId")],
    "Removals": [("Date", None), ("Email", None), ("Phone", None), ("Reason", None), ("MessageId", None),
                 ("MessageSubject", None), ("CustomSubscriberId", None), ("Channel", A), ("ListId", X),
                 ("ListName", X), ("MessageGuid", "returnGuid"), ("MessageContentId", "returnMessageContentId"),
                 ("SegmentId", "returnSegmentId"), ("ActivityIp", "returnActivityIp"),
                 ("DeliveryIp", "returnDeliveryIp")],
    "Bounces": [("Date", None), ("Email", None), ("Phone", None), ("Reason", None), ("MessageId", None),
                ("DiagnosticCode", None), ("CustomSubscriberId", None), ("Channel", A), ("ListId", X),
                ("ListName", X), ("MessageGuid", "returnGuid"), ("MessageContentId", "returnMessageContentId"),
                ("SegmentId", "returnSegmentId")],
    "Goals": [("Date", None), ("Email", None), ("Phone", None), ("MessageId", None), ("MessageSubject", None),
              ("GoalValue", None), ("GoalId", None), ("CustomSubscriberId", None), ("Channel", A), ("ListId", X),
              ("ListName", X), ("MessageGuid", "returnGuid"), ("MessageContentId", "returnMessageContentId"),
              ("SegmentId", "returnSegmentId"), ("ActivityIp", "returnActivityIp"),
              ("DeliveryIp", "returnDeliveryIp")],
}
CHANNEL_TYPES = {"Subscriptions", "Sends", "Clicks", "Removals", "Bounces", "Goals"}  # seed: channel parameter
FLAGS = ["returnTitle", "returnGuid", "returnMessageContentId", "returnSegmentId", "returnActivityIp",
         "returnDeliveryIp"]


def expected_header(activity: str, options: set[str]) -> list[str]:
    return [name for name, cond in SEED_TABLES[activity] if cond is None or cond in options]


def cases():
    for activity, table in SEED_TABLES.items():
        conditions = sorted({c for _, c in table if c})  # the options that change this type's columns
        for n in range(len(conditions) + 1):
            for combo in itertools.combinations(conditions, n):
                yield activity, combo


@pytest.mark.parametrize("activity, combo", list(cases()))
def test_header_matches_the_seed_table_for_every_column_changing_option(es, activity, combo):
    params = {"date": DAY, "type": activity}
    for option in combo:
        if option == A:
            params["channel"] = "All"
        elif option == X:
            params["columns"] = "Extended"
        else:
            params[option] = "true"
    response = es("/v2/Api/Activities", **params)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert parse(response.data)[0] == expected_header(activity, set(combo))


@pytest.mark.parametrize("activity", list(SEED_TABLES))
def test_flags_that_have_no_effect_for_a_type_change_nothing(es, activity):
    """Seed: e.g. 'returnTitle ... has no effect for activities other than Clicks'."""
    table_conditions = {c for _, c in SEED_TABLES[activity] if c}
    ineffective = {f: "true" for f in FLAGS if f not in table_conditions}
    if activity not in CHANNEL_TYPES:
        ineffective["channel"] = "All"  # channel: "Applicable only for the following activity types"
    plain = es("/v2/Api/Activities", date=DAY, type=activity)
    flagged = es("/v2/Api/Activities", date=DAY, type=activity, **ineffective)
    assert flagged.status_code == 200 and flagged.data == plain.data


def test_a_day_without_activity_still_has_the_header(es):
    response = es("/v2/Api/Activities", date="2026-03-14", type="Goals")  # after virtual now
    assert parse(response.data) == [expected_header("Goals", set())]


def test_boolean_flags_accept_any_case(es):
    """Booleans as true/false in any case (issue 5)."""
    upper = es("/v2/Api/Activities", date=DAY, type="Clicks", returnTitle="TRUE")
    assert "Title" in parse(upper.data)[0]
    false = es("/v2/Api/Activities", date=DAY, type="Clicks", returnTitle="False")
    assert "Title" not in parse(false.data)[0]
