"""A small schemathesis driver for the fuzz test: every operation of a contract, positive and negative data,
sent to a served emulator with real credentials, and most positive cases given values that reach the
success paths (recent dates, ids and discriminators the lookups answered, a real download URL).

It counts answers by status instead of stopping at the first failure: the test requires no 5xx at all and
reports how many cases ran and which statuses they reached.
"""

from __future__ import annotations

import json
import random
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from emulator.contracts import contracts_dir
from emulator.settings import (
    DEFAULT_APSIS_CLIENT_ID,
    DEFAULT_APSIS_CLIENT_SECRET,
    DEFAULT_EXPERTSENDER_API_KEY,
    DEFAULT_NETCORE_API_KEY,
)

Fixup = Callable[[Any, random.Random], None]


@dataclass
class Tally:
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_operation: dict[str, Counter] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)

    def add(self, label: str, case, response) -> None:
        self.cases += 1
        self.statuses[response.status_code] += 1
        self.by_operation.setdefault(label, Counter())[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{response.status_code} {case.as_curl_command()}\n{response.text[:300]}")


def http(method: str, url: str, body: Any = None, headers: dict | None = None) -> tuple[int, bytes, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


CREDENTIALS = ("authorization", "api_key", "apikey")


def run_contract(filename: str, base_url: str, headers: dict[str, str], query: dict[str, str],
                 fixup: Fixup | None, cases: int, seed: int = 21) -> Tally:
    """At least `cases` cases over the contract's operations, positive and negative, unless every operation's
    data runs out first. Operations whose data runs out (no parameters: a handful of distinct requests)
    leave their share to the others, round after round. Positive cases but every fourth go through
    `fixup`; the real credentials replace generated ones but in every eighth negative case. No shrinking:
    a 5xx is recorded with its curl line."""
    schema = schemathesis.openapi.from_path(str(contracts_dir() / filename))
    schema.config.update(base_url=base_url)
    active = [(result.ok(), mode) for result in schema.get_all_operations() for mode in ("positive", "negative")]
    tally = Tally()
    rnd = random.Random(seed)
    for round_ in range(6):
        if tally.cases >= cases or not active:
            break
        share = max(5, -(-(cases - tally.cases) // len(active)))
        still = []
        for operation, mode in active:
            before = tally.cases
            _run_operation(operation, mode, share, seed + round_, tally, rnd, fixup, headers, query)
            if tally.cases - before >= share:  # not run out: it can take more next round
                still.append((operation, mode))
        active = still
    return tally


def _run_operation(operation, mode: str, examples: int, seed: int, tally: Tally, rnd: random.Random,
                   fixup: Fixup | None, headers: dict[str, str], query: dict[str, str]) -> None:
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
    label = f"{operation.label} ({mode})"
    seen = iter(range(10**9))

    @hypothesis.seed(seed)
    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def one(case) -> None:
        n = next(seen)
        if mode == "positive" and fixup is not None and n % 4:
            fixup(case, rnd)
        if mode == "positive" or n % 8:  # in the case itself: a negative case drops headers given to call()
            case.headers = {**{k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIALS},
                            **headers}
            case.query = {**{k: v for k, v in (case.query or {}).items() if k.lower() not in CREDENTIALS},
                          **query}
        tally.add(label, case, case.call(timeout=120))

    try:
        one()
    except Exception as exc:
        if "Unsatisfiable" not in type(exc).__name__:
            raise


def _set(container: dict | None, key: str, value: Any) -> dict:
    container = dict(container or {})
    container[key] = value
    return container


# --- per-vendor data that reaches 2xx -------------------------------------------------------------------

def today(control: str) -> date:
    _, body, _ = http("GET", control + "clock")
    return datetime.fromisoformat(json.loads(body)["now"]).date()


def recent_days(control: str, count: int = 60) -> list[date]:
    last = today(control) - timedelta(days=1)
    return [last - timedelta(days=i) for i in range(count)]


def netcore_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    key = DEFAULT_NETCORE_API_KEY
    days = recent_days(control)
    _, body, _ = http("POST", base + "/netcore/v6/logs/download",
                      {"start_date": days[0].isoformat(), "end_date": days[0].isoformat()},
                      {"Authorization": f"Bearer {key}"})
    request_id = json.loads(body)["data"]["request_id"]
    download = None
    for _ in range(100):
        _, body, _ = http("GET", f"{base}/netcore/v6/logs/download/{request_id}", None,
                          {"Authorization": f"Bearer {key}"})
        download = json.loads(body)["data"].get("download_url")
        if download:
            break
        time.sleep(0.1)
    signature = parse_qs(urlsplit(download).query)["signature"][0]

    def fixup(case, rnd: random.Random) -> None:
        first = rnd.choice(days[:30])
        last = first + timedelta(days=rnd.choice((0, 0, 1, 2)))
        for a, b in (("startdate", "enddate"), ("start_date", "end_date")):
            if a in (case.query or {}) or b in (case.query or {}) or case.method == "GET" and "stats" in case.path:
                case.query = _set(case.query, a, first.isoformat())
                case.query = _set(case.query, b, last.isoformat()) if rnd.random() < 0.7 else case.query
        if case.path.endswith("/events"):
            q = dict(case.query or {})
            q.pop("scrollid", None), q.pop("scrollId", None)
            if case.path.startswith("/v6"):
                q.setdefault("start_date", first.isoformat())
                for name in ("start_time", "end_time"):
                    q.pop(name, None)
            else:
                q.setdefault("startdate", first.isoformat())
            case.query = q
        if isinstance(case.body, dict):
            case.body = {**case.body, "start_date": first.isoformat(), "end_date": last.isoformat()}
            for name in ("start_time", "end_time"):
                case.body.pop(name, None)
        if "request_id" in (case.path_parameters or {}):
            case.path_parameters = _set(case.path_parameters, "request_id", request_id)
        if case.path.endswith("/file"):
            case.query = _set(case.query, "signature", signature)
        headers = dict(case.headers or {})
        headers.pop("subaccount", None)
        headers.pop("api_key", None), headers.pop("Authorization", None)
        case.headers = headers

    return {"Authorization": f"Bearer {key}", "api_key": key}, {}, fixup


def expertsender_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    key = {"apiKey": DEFAULT_EXPERTSENDER_API_KEY}
    days = recent_days(control)
    first = days[7].isoformat()
    _, body, _ = http("GET", f"{base}/expertsender/v2/Api/Messages?apiKey={key['apiKey']}&startDate={first}"
                             f"&endDate={days[0].isoformat()}")
    messages = re.findall(rb"<Message><Id>(\d+)</Id>", body) or re.findall(rb"<Id>(\d+)</Id>", body)
    _, body, _ = http("GET", f"{base}/expertsender/v2/Api/Lists?apiKey={key['apiKey']}")
    lists = re.findall(rb"<Id>(\d+)</Id>", body)
    message_ids = [m.decode() for m in messages[:20]]
    list_ids = [x.decode() for x in lists[:10]]

    def fixup(case, rnd: random.Random) -> None:
        day = rnd.choice(days)
        q = dict(case.query or {})
        if "date" in q or case.path.startswith("/v2/Api/Activities"):
            q["date"] = day.isoformat()
        if "startDate" in q or "endDate" in q or "Bounces" in case.path:
            q["startDate"] = day.isoformat()
            q["endDate"] = (day + timedelta(days=rnd.choice((0, 1, 3)))).isoformat()
        case.query = q
        params = dict(case.path_parameters or {})
        if "id" in params:
            params["id"] = rnd.choice(list_ids if "/Lists/" in case.path else message_ids)
        case.path_parameters = params

    return {}, key, fixup


def apsis_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    _, body, _ = http("POST", base + "/apsis/oauth/token", {
        "grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
        "client_secret": DEFAULT_APSIS_CLIENT_SECRET})
    auth = {"Authorization": f"Bearer {json.loads(body)['access_token']}"}
    api = base + "/apsis"
    sections = [s["discriminator"] for s in json.loads(http("GET", api + "/audience/sections", None, auth)[1])["items"]]
    section = sections[0]
    activities = json.loads(http("GET", f"{api}/emails/sections/{section}/activities", None, auth)[1])
    activity_ids = [a["id"] for a in activities.get("items", [])][:20] or [1]
    now = datetime.combine(today(control), datetime.min.time())
    start = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - timedelta(days=2) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = json.loads(http("POST", api + "/emails/reports", {"start_at": start, "end_at": end}, auth)[1])["report_id"]
    export = json.loads(http("POST", api + "/audience/profiles/exports",
                             {"attributes": ["com.apsis1.attributes.email"]}, auth)[1])["export_id"]
    file_query: dict[str, str] = {}
    for _ in range(100):
        status = json.loads(http("GET", f"{api}/emails/reports/{report}", None, auth)[1])
        if status.get("file_download_url"):
            file_query = {k: v[0] for k, v in parse_qs(urlsplit(status["file_download_url"]).query).items()}
            break
        time.sleep(0.1)

    def fixup(case, rnd: random.Random) -> None:
        params = dict(case.path_parameters or {})
        if "section_discriminator" in params:
            params["section_discriminator"] = rnd.choice(sections)
        if "activity_id" in params:
            params["activity_id"] = rnd.choice(activity_ids)
        if "report_id" in params:
            params["report_id"] = report
        if "export_id" in params:
            params["export_id"] = export
        case.path_parameters = params
        if case.path.endswith("/file"):
            case.query = dict(file_query)
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-apsis-auth"}
        if isinstance(case.body, dict) and case.path in ("/emails/reports", "/audience/profiles/exports"):
            body = {k: v for k, v in case.body.items()
                    if k not in ("sections", "attributes", "tags", "events", "topics", "segment_filter")}
            hours = rnd.choice((1, 2, 6))
            begin = now - timedelta(days=rnd.choice((1, 2, 3)))
            body["start_at"] = begin.strftime("%Y-%m-%dT%H:%M:%SZ")
            body["end_at"] = (begin + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
            case.body = body
        if case.path == "/oauth/token" and isinstance(case.body, dict):
            case.body = {**case.body, "grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
                         "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        case.headers = headers

    return auth, {}, fixup


def control_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    def fixup(case, rnd: random.Random) -> None:
        if case.path == "/_emulator/clock" and case.method == "POST" and "set" in (case.body or {}):
            case.body = {"set": f"20{rnd.randint(10, 60)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}T12:00:00Z"}
        if case.path == "/_emulator/ui/{name}":
            case.path_parameters = {"name": rnd.choice(("dashboard.js", "dashboard.css"))}

    return {}, {}, fixup
