"""Bad input gets a clear 4xx in the vendor's own error format, never a 500 (issue 21's table).

One case per class of bad input (a non-finite or out-of-range number, a date at the calendar's edge, a
non-ASCII credential, JSON nested 1,000 deep or with NaN, an oversized body, announced or chunked) in every
vendor and the control API. Error formats: APSIS One problem+json with title/status/detail ("APSIS One API:
Handling errors"), ExpertSender XML ApiResponse/ErrorMessage with Code ("ExpertSender API v2: Get subscriber
activity", errors section), Netcore's JSON envelope {status: error, message, error} (the contract's
assumption), the control API's {status, error}.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from emulator.settings import (
    DEFAULT_APSIS_CLIENT_ID,
    DEFAULT_APSIS_CLIENT_SECRET,
    DEFAULT_EXPERTSENDER_API_KEY,
    DEFAULT_NETCORE_API_KEY,
)

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
BIG = 2 * 1024 * 1024  # over every limit (1 MiB; APSIS 100 kB)
APSIS_BIG = 150 * 1024  # over APSIS's documented 100 kB, under the 1 MiB others accept
TOKEN_BODY = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
              "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
NETCORE_V6 = {"Authorization": f"Bearer {DEFAULT_NETCORE_API_KEY}"}
NETCORE_V51 = {"api_key": DEFAULT_NETCORE_API_KEY}
ES_KEY = {"apiKey": DEFAULT_EXPERTSENDER_API_KEY}


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that counts what the server read of it."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"x" * n
        self.read_bytes += n
        return n


@dataclass
class Case:
    target: str  # apsis | expertsender | netcore | control
    label: str
    status: int
    call: Callable[[Any, dict[str, str]], Any]  # (client, apsis auth headers) -> response


def post_json(path: str, text: str, headers: dict | None = None) -> Callable:
    return lambda c, auth: c.post(path, data=text, content_type="application/json", headers=headers or {})


def post_apsis(path: str, text: str) -> Callable:
    return lambda c, auth: c.post(path, data=text, content_type="application/json", headers=auth)


def sized(method: str, path: str, size: int, headers: dict | None = None, chunked: bool = False) -> Callable:
    """A request with a body of `size` bytes, announced by Content-Length or chunked (no length)."""

    def call(c, auth):
        stream = CountingStream(size)
        extra = dict(headers or {}, **(auth if path.startswith("/apsis/") else {}))
        if chunked:
            extra["Transfer-Encoding"] = "chunked"
        environ = EnvironBuilder(path=path, method=method, headers=extra, content_type="application/json",
                                 data=b"").get_environ()
        environ["wsgi.input"] = stream
        if chunked:  # no length: the server marks the stream as ending by itself (gunicorn does)
            environ.pop("CONTENT_LENGTH", None)
            environ["wsgi.input_terminated"] = True
        else:
            environ["CONTENT_LENGTH"] = str(size)
        response = c.open(Request(environ))
        if chunked:  # reading stops at the limit (MAX_CONTENT_LENGTH): the body is never read whole
            assert stream.read_bytes <= 1024 * 1024 + 1, stream.read_bytes
        else:
            assert stream.read_bytes == 0, "a body refused by its Content-Length was read"
        return response

    return call


def get(path: str, query: dict | None = None, headers: dict | None = None) -> Callable:
    return lambda c, auth: c.get(path, query_string=query or {}, headers=headers or {})


CASES = [
    # --- control API ---
    *[Case("control", f"clock advance {v}", 400, post_json("/_emulator/clock", '{"advance": ' + v + '}'))
      for v in ("NaN", "Infinity", "-Infinity", "1e300", "-1", '"60"')],
    *[Case("control", f"clock set {v}", 400, post_json("/_emulator/clock", json.dumps({"set": v})))
      for v in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00",
                "1969-12-31T23:59:59Z", "2026-02-30T00:00:00Z", "now")],
    Case("control", "clock JSON nested 1,000 deep (arrays)", 400, post_json("/_emulator/clock", DEEP_ARRAY)),
    Case("control", "clock JSON nested 1,000 deep (objects)", 400, post_json("/_emulator/clock", DEEP_OBJECT)),
    Case("control", "scenario JSON nested 1,000 deep", 400, lambda c, a: c.put(
        "/_emulator/scenario", data=DEEP_OBJECT, content_type="application/json")),
    Case("control", "scenario options with NaN", 400, lambda c, a: c.put(
        "/_emulator/scenario", data='{"names": ["default"], "options": {"x": NaN}}',
        content_type="application/json")),
    Case("control", "clock body over 1 MiB (Content-Length)", 413, sized("POST", "/_emulator/clock", BIG)),
    Case("control", "clock body over 1 MiB (chunked)", 413, sized("POST", "/_emulator/clock", BIG, chunked=True)),
    Case("control", "journal limit not a number", 400, get("/_emulator/journal", {"limit": "ten"})),
    # --- APSIS One ---
    Case("apsis", "token JSON nested 1,000 deep", 400, post_json("/apsis/oauth/token", DEEP_ARRAY)),
    Case("apsis", "token JSON with NaN", 400, post_json(
        "/apsis/oauth/token", json.dumps(TOKEN_BODY)[:-1] + ', "x": NaN}')),
    Case("apsis", "token body not JSON", 400, post_json("/apsis/oauth/token", "{grant_type=")),
    Case("apsis", "token body over 100 kB (Content-Length)", 413, sized("POST", "/apsis/oauth/token", APSIS_BIG)),
    Case("apsis", "token body over 100 kB (chunked)", 413, sized("POST", "/apsis/oauth/token", APSIS_BIG,
                                                                 chunked=True)),
    Case("apsis", "reports JSON nested 1,000 deep", 400, post_apsis("/apsis/emails/reports", DEEP_OBJECT)),
    Case("apsis", "reports start_at in year 9999", 400, post_apsis(
        "/apsis/emails/reports", '{"start_at": "9999-12-31T00:00:00Z"}')),
    Case("apsis", "reports start_at before year 1 in UTC", 400, post_apsis(
        "/apsis/emails/reports", '{"start_at": "0001-01-01T00:00:00+14:00", "end_at": "0001-02-01T00:00:00Z"}')),
    Case("apsis", "reports end_at after year 9999 in UTC", 400, post_apsis(
        "/apsis/emails/reports", '{"start_at": "9999-12-30T00:00:00Z", "end_at": "9999-12-31T23:00:00-14:00"}')),
    Case("apsis", "profile export JSON nested 1,000 deep", 400, post_apsis(
        "/apsis/audience/profiles/exports", DEEP_ARRAY)),
    Case("apsis", "reports body over 100 kB", 413, sized("POST", "/apsis/emails/reports", APSIS_BIG)),
    Case("apsis", "a lookup with a body over 100 kB", 413, sized("GET", "/apsis/audience/sections", APSIS_BIG)),
    # --- ExpertSender ---
    Case("expertsender", "date in year 9999", 400, get(
        "/expertsender/v2/Api/Activities", {**ES_KEY, "date": "9999-12-31", "type": "Opens"})),
    Case("expertsender", "date in year 1", 400, get(
        "/expertsender/v2/Api/Activities", {**ES_KEY, "date": "0001-01-01", "type": "Opens"})),
    Case("expertsender", "date that does not exist", 400, get(
        "/expertsender/v2/Api/Activities", {**ES_KEY, "date": "2026-02-30", "type": "Opens"})),
    Case("expertsender", "Messages startDate after endDate", 400, get(
        "/expertsender/v2/Api/Messages", {**ES_KEY, "startDate": "2026-02-02", "endDate": "2026-02-01"})),
    Case("expertsender", "apiKey with non-ASCII characters", 403, get(
        "/expertsender/v2/Api/Messages", {"apiKey": "ключ-é"})),
    Case("expertsender", "a body over 1 MiB", 413, sized("GET", "/expertsender/v2/Api/Time", BIG)),
    # --- Netcore ---
    Case("netcore", "v5.1 scrollid with non-ASCII characters", 400, get(
        "/netcore/v5.1/events", {"startdate": "2026-03-01", "scrollid": "é.é"}, NETCORE_V51)),
    Case("netcore", "v6 scrollId with non-ASCII characters", 400, get(
        "/netcore/v6/events", {"start_date": "2026-03-01", "scrollId": "ü.ñ"}, NETCORE_V6)),
    Case("netcore", "api_key with non-ASCII characters", 401, get(
        "/netcore/v5.1/stats", {"startdate": "2026-03-01"}, {"api_key": "schlüssel"})),
    Case("netcore", "stats startdate in year 1", 400, get(
        "/netcore/v6/stats", {"startdate": "0001-01-01", "enddate": "0001-01-02"}, NETCORE_V6)),
    Case("netcore", "events end_date in year 10000", 400, get(
        "/netcore/v6/events", {"start_date": "2026-03-01", "end_date": "10000-01-01"}, NETCORE_V6)),
    Case("netcore", "download JSON nested 1,000 deep", 400, post_json(
        "/netcore/v6/logs/download", DEEP_OBJECT, NETCORE_V6)),
    Case("netcore", "download JSON with Infinity", 400, post_json(
        "/netcore/v6/logs/download", '{"start_date": "2026-03-01", "x": Infinity}', NETCORE_V6)),
    Case("netcore", "download body over 1 MiB (Content-Length)", 413, sized(
        "POST", "/netcore/v6/logs/download", BIG, NETCORE_V6)),
    Case("netcore", "download body over 1 MiB (chunked)", 413, sized(
        "POST", "/netcore/v6/logs/download", BIG, NETCORE_V6, chunked=True)),
]


def vendor_format(target: str, response, status: int) -> None:
    """The error is in the target's own format, naming the status."""
    body = response.get_data()
    if target == "apsis":
        assert response.content_type == "application/problem+json"
        doc = json.loads(body)
        assert doc["status"] == status and doc["title"] and doc["detail"]
    elif target == "expertsender":
        assert response.content_type.startswith("text/xml")
        assert f"<ErrorMessage><Code>{status}</Code>".encode() in body
    elif target == "netcore":
        assert response.content_type == "application/json"
        doc = json.loads(body)
        assert doc["status"] == "error" and doc["message"] and doc["error"]
    else:
        assert response.content_type == "application/json"
        doc = json.loads(body)
        assert doc["status"] == status and doc["error"]


@pytest.fixture
def auth(client) -> dict[str, str]:
    token = client.post("/apsis/oauth/token", json=TOKEN_BODY).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def frozen(core):
    from datetime import UTC, datetime

    core.clock.set(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.target}: {c.label}" for c in CASES])
def test_bad_input_gets_a_4xx_in_the_vendors_format(client, frozen, auth, case):
    response = case.call(client, auth)
    assert response.status_code == case.status, response.get_data()[:300]
    vendor_format(case.target, response, case.status)


def test_refused_bodies_are_journaled_without_being_read(client, frozen, auth):
    """The journal records a refused request (its status) but never its body, which nobody read."""
    for case in CASES:
        if case.status == 413 and case.target != "control":
            case.call(client, auth)
    entries = client.get("/_emulator/journal", query_string={"status": 413}).get_json()["items"]
    assert {e["vendor"] for e in entries} == {"apsis", "expertsender", "netcore"}
    assert all(e["body_size"] == 0 and e["body_digest"] == "" for e in entries)


def test_the_bad_input_table_covers_every_vendor_and_class():
    targets = {c.target for c in CASES}
    assert targets == {"apsis", "expertsender", "netcore", "control"}
    for target in targets:
        statuses = {c.status for c in CASES if c.target == target}
        assert 400 in statuses and 413 in statuses, target


EDGE_DATES = ("0001-01-01", "1970-01-01", "9998-12-31", "9999-12-31")


@pytest.mark.parametrize("moment", ["1970-01-01T00:00:00Z", "9998-12-31T23:59:59Z"])
def test_every_vendor_is_safe_with_the_clock_at_its_edges(client, moment):
    """Issue 21: with the clock set to 9999 or year 1, ExpertSender Messages and Netcore stats answered 500.
    The clock now stays within 1970-9998; at both ends, and with dates at the calendar's edges, every vendor
    answers without a server error."""
    assert client.post("/_emulator/clock", json={"set": moment}).status_code == 200
    token = client.post("/apsis/oauth/token", json=TOKEN_BODY).get_json()["access_token"]
    apsis = {"Authorization": f"Bearer {token}"}
    statuses = []
    for day in EDGE_DATES:
        for path, query, headers in [
            ("/netcore/v5.1/stats", {"startdate": day}, NETCORE_V51),
            ("/netcore/v6/stats", {"startdate": day, "enddate": day, "aggregated_by": "week"}, NETCORE_V6),
            ("/netcore/v5.1/events", {"startdate": day}, NETCORE_V51),
            ("/netcore/v6/events", {"start_date": day, "end_date": day}, NETCORE_V6),
            ("/expertsender/v2/Api/Messages", ES_KEY, {}),
            ("/expertsender/v2/Api/Time", ES_KEY, {}),
            ("/expertsender/v2/Api/MessageStatistics/1", ES_KEY, {}),
            ("/expertsender/v2/Api/Activities", {**ES_KEY, "date": moment[:10], "type": "Opens"}, {}),
            ("/_emulator/health", {}, {}),
            ("/_emulator/jobs", {}, {}),
        ]:
            statuses.append(client.get(path, query_string=query, headers=headers).status_code)
        statuses.append(client.post("/netcore/v6/logs/download", json={"start_date": day, "end_date": day},
                                    headers=NETCORE_V6).status_code)
        statuses.append(client.post("/apsis/emails/reports", json={"start_at": f"{day}T00:00:00Z"},
                                    headers=apsis).status_code)
        statuses.append(client.post("/apsis/audience/profiles/exports", json={"start_at": f"{day}T00:00:00Z"},
                                    headers=apsis).status_code)
    assert statuses and max(statuses) < 500, statuses
    assert 200 in statuses  # the checks reached answers, not only refusals
