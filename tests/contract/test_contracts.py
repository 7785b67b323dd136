"""Every contract in contracts/ through `emulator.conform`, in-process: positive and negative data, then the
stateful phase over the contract's OpenAPI links, with real credentials (a schemathesis auth provider).

Each test requires every check to pass AND every operation to be exercised: its positive or stateful
requests got a 2xx (counted at the WSGI layer, probes included), so that a green contract suite speaks about
the 200 answers, not only about rejections. Live mode: the same against the real vendor when
`<VENDOR>_BASE_URL` and its credentials are set; skipped otherwise, with the reason shown. Never faked.
"""

from __future__ import annotations

import pytest

from emulator.app import create_app
from emulator.conform import Target, run
from emulator.contracts import all_contract_files, contracts_dir, load
from emulator.settings import Settings

from .harness import MAX_EXAMPLES, in_process, live_target, meta, table

CONTRACTS = all_contract_files()

# The asynchronous flows the contracts' links describe, and the step each flow must reach with a 2xx.
FLOWS = {
    "apsis": ["GET /emails/reports/{report_id}", "GET /emails/reports/{report_id}/file",
              "GET /audience/profiles/exports/{export_id}"],
    "netcore": ["GET /v6/logs/download/{request_id}", "GET /v6/logs/download/{request_id}/file"],
}


def test_every_vendor_has_a_contract():
    vendors = {meta(f).get("vendor") for f in CONTRACTS}
    assert {"control", "apsis", "expertsender", "netcore"} <= vendors


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each contract's rows, run once per module against a fresh app of its own."""
    cache: dict[str, list] = {}

    def rows_of(filename: str) -> list:
        if filename not in cache:
            state = tmp_path_factory.mktemp("state")
            cache[filename] = in_process(filename, create_app(Settings(state_dir=str(state), seed=42)))
        return cache[filename]

    return rows_of


@pytest.mark.parametrize("filename", CONTRACTS)
def test_contract_in_process(filename, runs):
    rows = runs(filename)
    report = table(rows)
    assert all(r.ok for r in rows), report
    positive = [r for r in rows if r.mode == "positive"]
    assert positive and all(r.exercised for r in positive), report
    # The credentials are used: most positive answers are not 401/403 (those are the ignored_auth probes).
    answers = sum(r.requests for r in positive)
    rejected = sum(r.statuses[401] + r.statuses[403] for r in positive)
    assert rejected < answers / 2, report


@pytest.mark.parametrize("vendor", sorted(FLOWS))
def test_stateful_flows_reach_the_file(vendor, runs):
    """APSIS One "Request email event export" (request -> status -> file) and "profile in segment event
    export" (request -> poll URL), Netcore Download Logs (request -> status -> file): the stateful phase
    follows the contract's links, waits on the virtual clock while the export is pending, and gets the
    file."""
    filename = next(f for f in CONTRACTS if meta(f).get("vendor") == vendor)
    rows = {r.operation: r for r in runs(filename) if r.mode == "stateful"}
    for step in FLOWS[vendor]:
        assert step in rows and any(200 <= s < 300 for s in rows[step].statuses), table(list(rows.values()))


def _live_test(filename: str):
    base_url, creds, reason = live_target(filename)

    @pytest.mark.live
    def test():
        if base_url is None:
            pytest.skip(reason)
        rows = run(str(contracts_dir() / filename), Target(base_url), creds, max_examples=MAX_EXAMPLES)
        assert all(r.ok for r in rows), table(rows)

    return test


for _file in CONTRACTS:
    if meta(_file).get("vendor") != "control":
        _name = _file.removesuffix(".openapi.yaml").replace("-", "_").replace(".", "_")
        globals()[f"test_live_contract_{_name}"] = _live_test(_file)


def test_apsis_token_endpoint_accepts_valid_bodies(runs):
    """APSIS One API "Get an access token": a body with the configured client credentials gets 200. The
    positive_data_acceptance check runs on it (no skip in the contract), and a 429 of the documented limit
    of 10 token requests a minute is waited out, not accepted as an answer to valid data."""
    filename = next(f for f in CONTRACTS if meta(f).get("vendor") == "apsis")
    operation = load(filename)["paths"]["/oauth/token"]["post"]
    assert "positive_data_acceptance" not in (operation.get("x-emulator-skip-checks") or {})
    row = next(r for r in runs(filename) if r.operation == "POST /oauth/token" and r.mode == "positive")
    assert row.ok and row.statuses[200] >= MAX_EXAMPLES // 2, table([row])
