"""A small schemathesis driver for the fuzz test: every operation of a contract, positive and negative data,
sent to a served emulator with real credentials, and most positive cases given values that reach the
success paths (recent dates, ids and discriminators the lookups answered, a real download URL).

It counts answers by status instead of stopping at the first failure: the test requires no 5xx at all and
reports how many cases ran and which statuses they reached.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlsplit

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from emulator.conform.data import Lookups, PositiveHints
from emulator.contracts import contracts_dir, load
from emulator.settings import (
    DEFAULT_APSIS_CLIENT_ID,
    DEFAULT_APSIS_CLIENT_SECRET,
    DEFAULT_EXPERTSENDER_API_KEY,
    DEFAULT_NETCORE_API_KEY,
)
from emulator.vendors import VENDOR_APPS

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


# --- per-vendor data that reaches 2xx -------------------------------------------------------------------
# The contracts say where valid values come from (x-emulator-values-from, x-emulator-positive-omit, window
# parameters by name): conform's positive hints apply them. The targets add what no lookup lists: the ids of
# exports made for the run and their signed file URLs.

def today(control: str) -> date:
    _, body, _ = http("GET", control + "clock")
    return datetime.fromisoformat(json.loads(body)["now"]).date()


def _hints(filename: str, vendor: str, base: str, control: str) -> Callable[[Any], None]:
    """Conform's positive hints for the contract, its lookups made with the vendor's default credentials."""
    hooks = import_module(VENDOR_APPS[vendor][0])
    defaults = {"APSIS_CLIENT_ID": DEFAULT_APSIS_CLIENT_ID, "APSIS_CLIENT_SECRET": DEFAULT_APSIS_CLIENT_SECRET,
                "EXPERTSENDER_API_KEY": DEFAULT_EXPERTSENDER_API_KEY, "NETCORE_API_KEY": DEFAULT_NETCORE_API_KEY}
    prefix = base + VENDOR_APPS[vendor][1]
    creds = hooks.live_auth({**defaults, hooks.LIVE_ENV[0]: prefix})
    day = today(control)
    hints = PositiveHints(Lookups(load(filename), creds, prefix), lambda: day)
    hints.active = True
    return lambda case: hints(None, case)


def _poll(url: str, headers: dict, key: Callable[[dict], str | None]) -> str:
    for _ in range(200):
        found = key(json.loads(http("GET", url, None, headers)[1]))
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


def netcore_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    key = DEFAULT_NETCORE_API_KEY
    v6 = {"Authorization": f"Bearer {key}"}
    day = (today(control) - timedelta(days=1)).isoformat()
    _, body, _ = http("POST", base + "/netcore/v6/logs/download", {"start_date": day, "end_date": day}, v6)
    request_id = json.loads(body)["data"]["request_id"]
    download = _poll(f"{base}/netcore/v6/logs/download/{request_id}", v6, lambda d: d["data"].get("download_url"))
    signature = parse_qs(urlsplit(download).query)["signature"][0]
    hints = _hints("netcore-email.openapi.yaml", "netcore", base, control)

    def fixup(case, rnd: random.Random) -> None:
        hints(case)
        if "request_id" in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, "request_id": request_id}
        if case.path.endswith("/file"):
            case.query = {**(case.query or {}), "signature": signature}
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "subaccount"}

    return {"Authorization": f"Bearer {key}", "api_key": key}, {}, fixup


def expertsender_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    hints = _hints("expertsender-v2.openapi.yaml", "expertsender", base, control)
    return {}, {"apiKey": DEFAULT_EXPERTSENDER_API_KEY}, lambda case, rnd: hints(case)


def apsis_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    credentials = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
                   "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
    _, body, _ = http("POST", base + "/apsis/oauth/token", credentials)
    auth = {"Authorization": f"Bearer {json.loads(body)['access_token']}"}
    api = base + "/apsis"
    start = datetime.combine(today(control), datetime.min.time()) - timedelta(days=2)
    window = {"start_at": f"{start:%Y-%m-%dT%H:%M:%SZ}", "end_at": f"{start + timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}"}
    report = json.loads(http("POST", api + "/emails/reports", window, auth)[1])["report_id"]
    export = json.loads(http("POST", api + "/audience/profiles/exports",
                             {"attributes": ["com.apsis1.attributes.email"]}, auth)[1])["export_id"]
    file_url = _poll(f"{api}/emails/reports/{report}", auth, lambda d: d.get("file_download_url"))
    file_query = {k: v[0] for k, v in parse_qs(urlsplit(file_url).query).items()}
    hints = _hints("apsis-one.openapi.yaml", "apsis", base, control)

    def fixup(case, rnd: random.Random) -> None:
        hints(case)
        params = dict(case.path_parameters or {})
        params.update({k: v for k, v in (("report_id", report), ("export_id", export)) if k in params})
        case.path_parameters = params
        if case.path.endswith("/file"):
            case.query = dict(file_query)
        if case.path == "/oauth/token" and isinstance(case.body, dict):
            case.body = {**case.body, **credentials}

    return auth, {}, fixup


def control_target(base: str, control: str) -> tuple[dict, dict, Fixup]:
    def fixup(case, rnd: random.Random) -> None:
        if case.path == "/_emulator/clock" and case.method == "POST" and "set" in (case.body or {}):
            case.body = {"set": f"20{rnd.randint(10, 60)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}T12:00:00Z"}
        if case.path == "/_emulator/ui/{name}":
            case.path_parameters = {"name": rnd.choice(("dashboard.js", "dashboard.css"))}

    return {}, {}, fixup
