"""One client's whole day in one session, for the isolation tests: in-process and against served workers.

`run_session(http, name, index)` runs, under `/sessions/<name>`: a clock set to its own moment, a scenario
(switched twice), the APSIS email export flow (token, request, status polls while moving the clock, signed
download), a Netcore v5.1 scroll to its end and an ExpertSender day; then checks that the session's clock,
scenario, jobs and journal are its own. `http(method, path, json=None, headers=None)` answers
(status, headers, body) for a path on the server's root.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from emulator.settings import (
    DEFAULT_APSIS_CLIENT_ID,
    DEFAULT_APSIS_CLIENT_SECRET,
    DEFAULT_EXPERTSENDER_API_KEY,
    DEFAULT_NETCORE_API_KEY,
)

Http = Callable[..., tuple[int, dict[str, str], bytes]]
BASE_MOMENT = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)
CLOCK_SLACK_S = 60.0  # real seconds a run may take: the virtual clock runs on with real time


def _json(http: Http, method: str, path: str, body: Any = None, headers: dict | None = None,
          expect: int = 200) -> Any:
    status, _, data = http(method, path, json=body, headers=headers)
    assert status == expect, (method, path, status, data[:300])
    return json.loads(data)


def moment_of(index: int) -> datetime:
    return BASE_MOMENT + timedelta(days=index)


def probe_rule(index: int) -> dict[str, Any]:
    """A rule only session `index` has: GET /apsis/probe/<index> answers 503 there (404 everywhere else)."""
    return {"name": f"probe-{index}", "match": {"vendor": "apsis", "path": f"/probe/{index}"},
            "action": {"status": 503}}


def run_session(http: Http, name: str, index: int, sessions: int) -> dict[str, Any]:
    base = f"/sessions/{name}"
    control = base + "/_emulator"
    moment = moment_of(index)
    _json(http, "POST", control + "/clock", {"set": moment.isoformat()})
    first = ["slow-exports"] if index % 2 else ["default"]
    _json(http, "PUT", control + "/scenario", {"names": first})
    requests_made = 0

    # APSIS One: token, request an email event export, poll while moving the clock, download the file.
    token = _json(http, "POST", base + "/apsis/oauth/token", {
        "grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
        "client_secret": DEFAULT_APSIS_CLIENT_SECRET})["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    window = {"start_at": (moment - timedelta(days=1)).strftime("%Y-%m-%dT%H:00:00Z"),
              "end_at": (moment - timedelta(days=1) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:00:00Z")}
    report_id = _json(http, "POST", base + "/apsis/emails/reports", window, auth, expect=202)["report_id"]
    requests_made += 2
    advanced, delay = 0.0, 1.0
    for _ in range(20):
        status = _json(http, "GET", f"{base}/apsis/emails/reports/{report_id}", headers=auth)
        requests_made += 1
        if status["status"] != "pending":
            break
        _json(http, "POST", control + "/clock", {"advance": delay})
        advanced += delay
        delay *= 2
    assert status["status"] == "completed", status
    if index % 2:  # slow-exports: 900 virtual seconds more than the default
        assert advanced >= 900, advanced
    else:
        assert advanced < 900, advanced
    url = urlsplit(status["file_download_url"])
    assert url.path.startswith(f"{base}/apsis/"), status["file_download_url"]
    code, _, data = http("GET", url.path + "?" + url.query)
    requests_made += 1
    assert code == 200, data[:300]
    rows = list(csv.reader(io.StringIO(gzip.decompress(data).decode())))
    assert rows[0][:2] == ["activity_id", "split_id"]

    # Switch scenarios: a rule of this session's own.
    _json(http, "PUT", control + "/scenario", {"rules": [probe_rule(index)]})
    for other in range(sessions):
        code, _, _ = http("GET", f"{base}/apsis/probe/{other}", headers=auth)
        requests_made += 1
        assert code == (503 if other == index else 404), (index, other, code)

    # Netcore v5.1: follow the scroll of yesterday's events to its end.
    day = (moment - timedelta(days=1)).date().isoformat()
    query = {"startdate": day, "enddate": day, "limit": 1000}
    netcore = {"api_key": DEFAULT_NETCORE_API_KEY}
    scrolled = 0
    for _ in range(1000):
        page = _json(http, "GET", f"{base}/netcore/v5.1/events?{urlencode(query)}", headers=netcore)
        requests_made += 1
        if not page["data"]:
            break
        scrolled += len(page["data"])
        query = {**query, "scrollid": page["scrollid"]}
    assert scrolled > 0

    # ExpertSender: one day of Sends.
    es_query = urlencode({"apiKey": DEFAULT_EXPERTSENDER_API_KEY, "date": day, "type": "Sends"})
    code, _, data = http("GET", f"{base}/expertsender/v2/Api/Activities?{es_query}")
    requests_made += 1
    assert code == 200, data[:300]

    # The session's own state, as its control API shows it.
    clock = _json(http, "GET", control + "/clock")
    now = datetime.fromisoformat(clock["now"])
    expected = moment + timedelta(seconds=advanced)
    assert expected - timedelta(seconds=1) <= now <= expected + timedelta(seconds=CLOCK_SLACK_S), (now, expected)
    scenario = _json(http, "GET", control + "/scenario")
    assert [r["id"] for r in scenario["rules"]] == [f"api:probe-{index}"]
    jobs = _json(http, "GET", control + "/jobs")["items"]
    assert [j["id"] for j in jobs] == [report_id]
    journal = _json(http, "GET", control + "/journal")["items"]
    assert len(journal) == requests_made, (len(journal), requests_made)
    probes = {e["path"]: e["status"] for e in journal if e["path"].startswith("/probe/")}
    assert probes == {f"/probe/{i}": (503 if i == index else 404) for i in range(sessions)}
    assert {e["path"] for e in journal if e["vendor"] == "apsis" and "reports" in e["path"]} >= {
        "/emails/reports", f"/emails/reports/{report_id}"}
    return {"report_id": report_id, "advanced": advanced, "workers": {e["worker"] for e in journal}}


def run_sessions_at_once(http: Http, prefix: str, count: int = 8) -> list[dict[str, Any]]:
    """`count` clients started together, each running run_session in its own session <prefix>-<i>."""
    start = threading.Barrier(count)

    def one(index: int) -> dict[str, Any]:
        start.wait()
        return run_session(http, f"{prefix}-{index}", index, count)

    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(one, range(count)))
    assert len({r["report_id"] for r in results}) == count
    return results
