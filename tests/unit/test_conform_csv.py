"""conform's `csv_columns` check: the columns the contracts declare are the vendors' documented columns, and a
header row that differs is described by what is missing, undocumented or out of order."""

from __future__ import annotations

import gzip
import itertools

import pytest

from emulator.conform.csv_columns import EXTENSION, difference, expected_columns, header_row
from emulator.contracts import load
from emulator.vendors.apsis.email_csv import DEFAULT_COLUMNS
from emulator.vendors.expertsender.columns import FLAGS, TABLES, columns
from emulator.vendors.netcore.records import CSV_HEADER


def declared(contract: str, path: str, status: str = "200") -> dict:
    raw = load(contract)
    response = raw["paths"][path]["get"]["responses"][status]
    if "$ref" in response:
        response = raw["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response[EXTENSION]


def test_apsis_file_declares_the_default_columns_then_more():
    """APSIS One "Request email event export": the default columns in order, then one per attribute and
    tag."""
    spec = declared("apsis-one.openapi.yaml", "/emails/reports/{report_id}/file")
    assert expected_columns(spec, {}, {}) == list(DEFAULT_COLUMNS) and spec["more"] is True


def test_netcore_file_declares_the_emulator_columns():
    spec = declared("netcore-email.openapi.yaml", "/v6/logs/download/{request_id}/file")
    assert expected_columns(spec, {}, {}) == list(CSV_HEADER)


@pytest.mark.parametrize("path", ["/v2/Api/Activities", "/v2/Api/Activities/{id}"])
def test_expertsender_tables_give_each_requests_header(path):
    """ExpertSender API v2 "Get subscriber activity": for every type, channel, columns option and return* flag
    the declared header is the one the seed's tables give (the emulator's `columns`)."""
    spec = declared("expertsender-v2.openapi.yaml", path)
    defaults = {"channel": "Email", "columns": "Standard"}
    for activity in TABLES:
        for channel, extended in itertools.product(["Email", "All"], [False, True]):
            for flag in [None, *FLAGS]:
                query = {"type": activity, "channel": channel,
                         "columns": "Extended" if extended else "Standard"}
                if flag:
                    query[flag] = "true"
                want = columns(activity, channel, extended, {flag: True} if flag else {})
                assert expected_columns(spec, query, defaults) == want, query
    assert expected_columns(spec, {"type": "Sends"}, defaults) == columns("Sends", "Email", False, {})
    assert expected_columns(spec, {"type": "Unknown"}, defaults) is None


def test_header_row_of_plain_and_gzip_csv():
    body = b'\xef\xbb\xbfDate,Email,"Message, Subject"\r\n2026-01-01,a@b.c,x\r\n'
    assert header_row(body.decode("utf-8-sig").encode()) == ["Date", "Email", "Message, Subject"]
    assert header_row(body) == ["Date", "Email", "Message, Subject"]
    assert header_row(gzip.compress(body)) == ["Date", "Email", "Message, Subject"]
    assert header_row(b"") is None


def test_difference_names_missing_undocumented_and_order():
    assert difference(["a", "b"], ["a", "b"]) is None
    assert difference(["a", "b"], ["a", "b", "x (version_id: 1)"], more=True) is None
    assert difference(["a", "b", "c"], ["a", "c"]) == "missing column 'b'. Declared: a, b, c. Received: a, c"
    assert difference(["a"], ["a", "z"]).startswith("undocumented column 'z'")
    assert difference(["a", "b"], ["b", "a"]).startswith("columns out of order")
    assert difference(["a", "b"], ["a", "c", "d"]).startswith(
        "missing column 'b'; undocumented columns 'c', 'd'")
    assert difference(["a", "b"], ["b"], more=True).startswith("missing column 'a'")
    assert difference(["a", "b"], ["a", "x", "b"], more=True).startswith("undocumented column 'x'")
