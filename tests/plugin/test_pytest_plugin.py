"""The pytest plugin (emulator/pytest_plugin.py), through inner pytest runs that load it by its entry point.

Each inner run is a subprocess (`pytester.runpytest_subprocess`) that starts real servers, so the runs
are few and each checks several things; tests that need no inner run call the module directly.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.pytest_plugin import EmulatorStartError, start_server
from tests.docs.markdown import all_blocks, blocks

DOC = Path(__file__).resolve().parents[2] / "docs" / "pytest-plugin.md"

# Checks of the handle, the markers and the reset, run in one inner session (test order matters: file order).
CHECKS = r'''
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from emulator.pytest_plugin import EmulatorError
from emulator.settings import (DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET,
                               DEFAULT_EXPERTSENDER_API_KEY, DEFAULT_NETCORE_API_KEY)


def call(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def netcore(h, path="/v5.1/stats"):
    day = f"{h.now() - timedelta(days=1):%Y-%m-%d}"
    return call(f"{h.netcore.base_url}{path}?startdate={day}", {"api_key": h.netcore.api_key})


def test_handle(email_events_emulator, emulator):
    h = email_events_emulator
    assert emulator.server is h and emulator.url == f"{h.url}/sessions/{emulator.session}"
    assert emulator.apsis.base_url == emulator.url + "/apsis"
    assert emulator.seed == 42 and emulator.health()["seed"] == 42
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", h.url)
    assert h.apsis == (h.url + "/apsis", DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET)
    assert h.expertsender == (h.url + "/expertsender", DEFAULT_EXPERTSENDER_API_KEY)
    assert h.netcore == (h.url + "/netcore", DEFAULT_NETCORE_API_KEY)
    assert h.seed == 42 and h.health()["seed"] == 42 and h.health()["status"] == "ok"
    assert h.default_scenario == ["default"]


@pytest.mark.emulator_scenario("netcore-429-burst")
def test_scenario_marker_activates(emulator):
    assert emulator.scenario()["names"] == ["netcore-429-burst"]
    assert [netcore(emulator) for _ in range(4)] == [200, 200, 200, 429]


def test_scenario_restored_after_the_marked_test(emulator):
    assert emulator.scenario()["names"] == ["default"]
    assert [netcore(emulator) for _ in range(4)] == [200, 200, 200, 200]


@pytest.mark.emulator_scenario(rules=[{"name": "es-down", "match": {"vendor": "expertsender"},
                                       "action": {"status": 503, "message": "down"}}])
def test_scenario_marker_with_rules(emulator):
    es = emulator.expertsender
    assert call(f"{es.base_url}/v2/Api/Time?apiKey={es.api_key}") == 503
    assert emulator.journal(vendor="expertsender")[0]["fault"]


def test_advance_and_set_clock(emulator):
    assert abs(emulator.clock()["offset_seconds"]) < 1
    before = emulator.now()
    emulator.advance(3600)
    after = emulator.advance(timedelta(minutes=30))
    assert timedelta(seconds=5400) <= after - before < timedelta(seconds=5460)
    assert emulator.clock()["offset_seconds"] >= 5400
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert abs(emulator.set_clock(moment) - moment) < timedelta(seconds=5)
    moment = datetime(2026, 2, 1, tzinfo=UTC)
    assert abs(emulator.set_clock("2026-02-01T00:00:00Z") - moment) < timedelta(seconds=5)


def test_reset_before_each_test(emulator):
    assert abs(emulator.clock()["offset_seconds"]) < 1  # the previous test moved the clock
    assert emulator.journal() == []


def test_journal_filters(emulator):
    netcore(emulator)
    netcore(emulator, "/v5.1/events")
    es = emulator.expertsender
    assert call(f"{es.base_url}/v2/Api/Time?apiKey=wrong") == 403
    assert [e["vendor"] for e in emulator.journal()] == ["netcore", "netcore", "expertsender"]
    assert [e["path"] for e in emulator.journal(vendor="netcore")] == ["/v5.1/stats", "/v5.1/events"]
    assert [e["path"] for e in emulator.journal(path="/v5.1/ev*")] == ["/v5.1/events"]
    assert [e["vendor"] for e in emulator.journal(status=403)] == ["expertsender"]
    assert emulator.journal(method="post") == []
    assert [e["path"] for e in emulator.journal(method="GET", limit=1)] == ["/v2/Api/Time"]
    emulator.clear_journal()
    assert emulator.journal() == []


def test_control_errors_carry_the_message(emulator):
    with pytest.raises(EmulatorError) as info:
        emulator.set_scenario("no-such-scenario")
    assert info.value.status == 400
    assert "no-such-scenario" in info.value.message and "rate-limited" in info.value.payload["known"]
    with pytest.raises(EmulatorError, match="advance"):
        emulator.advance(-1)


@pytest.mark.emulator_seed(7)
def test_seed_marker(emulator, email_events_emulator):
    assert emulator.health()["seed"] == 7 and emulator.seed == 7
    assert emulator.url != email_events_emulator.url


@pytest.mark.emulator_seed(42)
def test_seed_marker_of_the_session_seed_reuses_it(emulator, email_events_emulator):
    assert emulator.server is email_events_emulator and emulator.seed == 42


def test_each_test_has_its_own_session_that_ends_after_it(emulator, email_events_emulator):
    names = [s["name"] for s in email_events_emulator.control("GET", "sessions")["items"]]
    assert names == ["default", emulator.session]  # the sessions of earlier tests ended
    assert email_events_emulator.journal() == []  # no test's request reached the default session


def test_session_fixture_does_not_reset_1(email_events_emulator):
    email_events_emulator.advance(120)


def test_session_fixture_does_not_reset_2(email_events_emulator):
    assert email_events_emulator.clock()["offset_seconds"] >= 120
'''


def readme_example() -> str:
    """The block docs/pytest-plugin.md marks `<!-- run: pytest -->` (one block: the complete example)."""
    found = [b.code for b in blocks(DOC) if b.mark == "run: pytest"]
    assert len(found) == 1, "the plugin page holds exactly one complete example"
    return found[0]


def other_doc_examples() -> list[str]:
    """The `<!-- run: pytest -->` blocks of the other pages (the README's short one)."""
    return [b.code for b in all_blocks() if b.mark == "run: pytest" and b.page != "docs/pytest-plugin.md"]


def test_registered_by_entry_point():
    names = {(e.name, e.value) for e in importlib.metadata.entry_points(group="pytest11")}
    assert ("email_events_emulator", "emulator.pytest_plugin") in names


def test_import_is_light():
    heavy = ("flask", "werkzeug", "faker", "schemathesis", "jsonschema", "gunicorn", "yaml")
    code = f"import sys, emulator.pytest_plugin; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_start_failure_names_the_problem_and_shows_the_output(tmp_path):
    with pytest.raises(EmulatorStartError) as info:
        start_server(tmp_path, scenarios=["no-such-scenario"], timeout=20)
    message = str(info.value)
    assert "exited" in message and "no-such-scenario" in message


def test_fixtures_markers_and_readme_example(pytester):
    example = readme_example()
    for vendor in ("apsis", "expertsender", "netcore"):
        assert f"def test_{vendor}" in example
    others = other_doc_examples()
    assert others, "the README's plugin example"
    pytester.makepyfile(test_readme_example=example, test_checks=CHECKS,
                        **{f"test_doc_example_{n}": code for n, code in enumerate(others)})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    tests = [example, CHECKS, *others]
    result.assert_outcomes(passed=sum(("\n" + code).count("\ndef test_") for code in tests))


def test_options_ini_and_start_up_scenario(pytester):
    pytester.makeini("[pytest]\nemulator_scenario = rate-limited\n")
    pytester.makepyfile('''
import pytest


def test_session_options(email_events_emulator):
    health = email_events_emulator.health()
    assert health["seed"] == 5 and health["scale"] == 0.5 and health["scenario"] == ["rate-limited"]


@pytest.mark.emulator_scenario("flaky", "netcore-429-burst")
def test_marker(emulator):
    assert emulator.scenario()["names"] == ["flaky", "netcore-429-burst"]


def test_start_up_scenario_is_restored(emulator):
    assert emulator.scenario()["names"] == ["rate-limited"]


@pytest.mark.emulator_seed(5)
def test_seed_marker_of_the_session_seed(emulator, email_events_emulator):
    assert emulator.server is email_events_emulator and emulator.seed == 5
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "--emulator-seed", "5",
                                           "--emulator-scale", "0.5")
    result.assert_outcomes(passed=4)


def test_emulator_url_uses_a_running_server(pytester, monkeypatch, email_events_emulator):
    """The outer session's own fixture serves the inner run, which must not start a server of its own."""
    monkeypatch.setenv("EMULATOR_URL", email_events_emulator.url)
    pytester.makepyfile(f'''
import pytest


def test_uses_it(emulator):
    server = emulator.server or emulator  # a session's handle, or with --emulator-isolation reset the server's
    assert server.url == {email_events_emulator.url!r}
    assert server.process is None and emulator.seed == 42


@pytest.mark.emulator_seed(9)
def test_other_seed_is_a_session_of_that_seed(emulator):
    assert emulator.health()["seed"] == 9


@pytest.mark.emulator_seed(9)
def test_reset_isolation_cannot_start_another_seed(emulator):
    pass
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rs", "-k", "not reset_isolation")
    result.assert_outcomes(passed=2, deselected=1)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rs", "--emulator-isolation", "reset",
                                           "-k", "uses_it or reset_isolation")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*emulator_seed(9)*runs seed 42*"])


# A suite of tests that would break each other on shared state: each moves the clock, sets a scenario of its
# own, creates an export and reads the journal and jobs. Run with four xdist workers against one emulator.
PARALLEL_SUITE = r'''
import json
import urllib.error
import urllib.request

import pytest


def call(url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


@pytest.mark.parametrize("n", range(24))
def test_isolated(emulator, n):
    assert abs(emulator.clock()["offset_seconds"]) < 5 and emulator.journal() == [] and emulator.jobs() == []
    emulator.set_clock(f"2026-03-{1 + n % 28:02d}T12:00:00Z")
    emulator.set_scenario(rules=[{"name": f"mine-{n}", "match": {"vendor": "apsis", "path": f"/probe/{n}"},
                                  "action": {"status": 503}}])
    a = emulator.apsis
    status, token = call(a.base_url + "/oauth/token", {"grant_type": "client_credentials",
                                                       "client_id": a.client_id, "client_secret": a.client_secret})
    auth = {"Authorization": "Bearer " + token["access_token"]}
    status, report = call(a.base_url + "/emails/reports", {"start_at": "2026-02-01T00:00:00Z",
                                                            "end_at": "2026-02-01T01:00:00Z"}, auth)
    assert status == 202
    assert [call(f"{a.base_url}/probe/{k}", headers=auth)[0] for k in (n, n + 1)] == [503, 404]
    emulator.advance(120 + n)
    assert [j["id"] for j in emulator.jobs()] == [report["report_id"]]
    assert [e["path"] for e in emulator.journal()] == ["/oauth/token", "/emails/reports", f"/probe/{n}",
                                                       f"/probe/{n + 1}"]
    assert emulator.scenario()["rules"][0]["name"] == f"mine-{n}"
    assert emulator.now().day == 1 + n % 28
'''


def test_a_suite_passes_with_four_xdist_workers_against_one_emulator(pytester, monkeypatch, email_events_emulator):
    """`pytest -n 4` with EMULATOR_URL: every test has its own session, none sees another's state."""
    pytest.importorskip("xdist")
    monkeypatch.setenv("EMULATOR_URL", email_events_emulator.url)
    pytester.makepyfile(PARALLEL_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-n", "4")
    result.assert_outcomes(passed=24)
    assert email_events_emulator.jobs() == []  # the default session saw none of it
