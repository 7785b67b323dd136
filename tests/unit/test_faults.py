"""The fault engine: rule matching, counters, seeded probability, rate and time windows, headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator.core import build_core
from emulator.faults import RequestInfo
from emulator.settings import Settings


def req(path="/emails/reports", method="POST", vendor="apsis", query=None, header=()):
    return RequestInfo(vendor, method, path, query or {}, tuple(header))


@pytest.fixture
def faults(tmp_path):
    return build_core(Settings(state_dir=str(tmp_path), seed=42)).faults


def statuses(faults, n, **kw):
    return [faults.decide(req(**kw)).status for _ in range(n)]


def rule(name="r", action=None, **match):
    return {"name": name, "match": match, "action": action or {"status": 503}}


def test_rule_matches_vendor_method_and_path_glob(faults):
    faults.activate(rules=[rule(vendor="apsis", method="POST", path="/emails/*")])
    assert faults.decide(req()).status == 503
    assert faults.decide(req(method="GET")).status is None
    assert faults.decide(req(vendor="netcore")).status is None
    assert faults.decide(req(path="/oauth/token")).status is None


def test_nth_call_fires_once(faults):
    faults.activate(rules=[rule(nth=3)])
    assert statuses(faults, 5) == [None, None, 503, None, None]


def test_every_kth_call_fires(faults):
    faults.activate(rules=[rule(every=2)])
    assert statuses(faults, 6) == [None, 503, None, 503, None, 503]


def test_after_and_times_bound_the_firing(faults):
    faults.activate(rules=[rule(after=1, times=2)])
    assert statuses(faults, 5) == [None, 503, 503, None, None]


def test_probability_is_seeded_and_reproducible(tmp_path):
    def run(seed, sub):
        f = build_core(Settings(state_dir=str(tmp_path / sub), seed=seed)).faults
        f.activate(rules=[rule(probability=0.3)])
        return statuses(f, 200)

    first, again, other = run(42, "a"), run(42, "b"), run(7, "c")
    assert first == again
    assert first != other
    assert 30 <= first.count(503) <= 90


def test_rate_window_follows_the_virtual_clock(tmp_path):
    core = build_core(Settings(state_dir=str(tmp_path)))
    core.clock.set(datetime(2026, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC))
    core.faults.activate(rules=[rule(rate={"limit": 1, "per": 60}, action={"status": 429})])
    assert statuses(core.faults, 3) == [None, 429, 429]
    core.clock.advance(60)
    assert statuses(core.faults, 2) == [None, 429]


def test_time_window_on_the_virtual_clock(tmp_path):
    core = build_core(Settings(state_dir=str(tmp_path)))
    core.faults.activate(rules=[rule(**{"from": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"})])
    core.clock.set(datetime(2029, 12, 31, 23, 59, tzinfo=UTC))
    assert core.faults.decide(req()).status is None
    core.clock.advance(120)
    assert core.faults.decide(req()).status == 503
    core.clock.advance(86_400)
    assert core.faults.decide(req()).status is None


def test_query_match_is_case_insensitive_on_values(faults):
    faults.activate(rules=[rule(vendor="expertsender", query={"type": "Clicks"})])
    assert faults.decide(req(vendor="expertsender", method="GET", query={"type": "clicks"})).status == 503
    assert faults.decide(req(vendor="expertsender", method="GET", query={"type": "Opens"})).status is None


def test_per_request_header_scenario_applies_to_that_request_only(faults):
    assert faults.decide(req(header=["oversized-request"])).status == 413
    assert faults.decide(req()).status is None


def test_unknown_header_scenario_is_an_error(faults):
    with pytest.raises(KeyError):
        faults.decide(req(header=["no-such-scenario"]))


def test_export_actions_merge_into_modifiers(faults):
    faults.activate(rules=[rule("a", action={"export": "fail"}), rule("b", action={"export_delay": 600}),
                           rule("c", action={"export_expires_after": 30})])
    decision = faults.decide(req())
    assert decision.status is None
    assert (decision.export.outcome, decision.export.extra_delay, decision.export.expires_after) == ("fail", 600, 30)


def test_first_rule_forcing_an_answer_wins_but_all_counters_advance(faults):
    faults.activate(rules=[rule("first", action={"status": 429, "headers": {"Retry-After": "5"}}),
                           rule("second", action={"status": 500}, nth=1)])
    decision = faults.decide(req())
    assert (decision.status, decision.headers, decision.rule) == (429, {"Retry-After": "5"}, "api:first")
    faults.activate(rules=[rule("second", action={"status": 500}, nth=2)])
    assert statuses(faults, 2) == [None, 500]


def test_vendor_options_come_from_scenarios_and_runtime(faults):
    assert faults.option("apsis.auth_failure_status", 401) == 401
    faults.activate(options={"apsis.auth_failure_status": 403})
    assert faults.option("apsis.auth_failure_status", 401) == 403
