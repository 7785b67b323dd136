"""Fuzzing every contract against a served emulator: no input gets a server error (issue 21).

Schemathesis generates positive and negative data for every operation of each contract, at least 1,000
cases a contract, sent with real credentials to a real gunicorn server; most positive cases carry values
that reach the success paths (recent dates, ids from the lookups, a real signed download URL), and every
operation must have answered 2xx at least once. The answers are counted by status, from the driver and
from the server's own journal: 0 answers of 5xx are allowed. Vendors documents: each error in the vendor's
format is checked by tests/unit/test_bad_input.py; this test checks that nothing reaches a 500.
"""

from __future__ import annotations

import json

import pytest

from . import fuzz
from .server import running_server

pytestmark = [pytest.mark.gunicorn, pytest.mark.fuzz]

CASES = 1_000  # a contract
# Control last: it moves the clock, resets the state and sets fault rules.
TARGETS = [
    ("netcore", "netcore-email.openapi.yaml", fuzz.netcore_target, "/netcore"),
    ("expertsender", "expertsender-v2.openapi.yaml", fuzz.expertsender_target, "/expertsender"),
    ("apsis", "apsis-one.openapi.yaml", fuzz.apsis_target, "/apsis"),
    ("control", "control.openapi.yaml", fuzz.control_target, ""),
]
# Exports ready at once and no request limits, so that positive data reaches the files; a small world.
ENV = {"EMULATOR_EXPORT_DELAY": "0", "EMULATOR_APSIS_PENDING_EXPORT_LIMIT": "100000",
       "EMULATOR_APSIS_TOKEN_LIMIT": "0"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("fuzz"), "--scale", "0.05", env=ENV) as base:
        yield base


@pytest.mark.parametrize("vendor, filename, target, prefix", TARGETS, ids=[t[0] for t in TARGETS])
def test_fuzzing_a_contract_finds_no_server_error(served, vendor, filename, target, prefix):
    headers, query, fixup = target(served, served + "/_emulator/")
    if vendor != "control":
        fuzz.http("DELETE", served + "/_emulator/journal")
    tally = fuzz.run_contract(filename, served + prefix, headers, query, fixup, CASES)
    print(f"\n{vendor}: {tally.cases} cases, statuses {dict(sorted(tally.statuses.items()))}")
    assert tally.cases >= CASES
    assert not tally.server_errors, "\n\n".join(tally.server_errors[:5])
    unreached = [op for op, statuses in tally.by_operation.items()
                 if op.endswith("(positive)") and not any(200 <= s < 300 for s in statuses)]
    assert not unreached, f"operations whose positive data never reached a 2xx: {unreached}"
    if vendor != "control":  # the server's own record agrees: it answered no 5xx
        _, body, _ = fuzz.http("GET", served + f"/_emulator/journal?vendor={vendor}&limit=10000")
        answered = [entry["status"] for entry in json.loads(body)["items"]]
        assert answered and max(answered) < 500
        assert sum(200 <= s < 300 for s in answered) >= sum(n for s, n in tally.statuses.items() if s < 300)
