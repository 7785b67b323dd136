"""Drift is caught: `email-events-emulator conform` against a server that changed one thing the contract
describes must exit 1 and name the drift in its report: the check that failed, and the field, column or
status.

The server is the emulator's own app with one answer altered (tests/e2e/drifted.py), served on loopback; the
same run against the unaltered emulator passes (tests/e2e/test_conform.py), so each failure here is the drift.
"""

from __future__ import annotations

import pytest

from emulator.cli import main
from emulator.settings import Settings

from . import drifted

DEFAULTS = Settings()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return drifted.emulator(tmp_path_factory.mktemp("state"))


@pytest.fixture
def serve(app):
    return lambda path, drift: drifted.served(app, path, drift)


def conform(tmp_path, serve, contract: str, prefix: str, operation: str, drift: drifted.Drift,
            *auth: str) -> tuple[int, str]:
    """Serve the emulator with `drift` on the operation's path and run conform on that operation in positive
    mode: its exit code and Markdown report."""
    report = tmp_path / "r.md"
    with serve(prefix + operation.split(" ", 1)[1], drift) as base:
        code = main(["conform", "--contract", contract, "--base-url", base + prefix, *auth, "--operation",
                     operation, "--modes", "positive", "--max-examples", "3", "--report", str(report)])
    return code, report.read_text()


def drift_failures(tmp_path, serve, capsys, contract: str, prefix: str, operation: str, drift: drifted.Drift,
                   *auth: str) -> tuple[list[str], str]:
    """conform must exit 1: the report's failure lines for the operation, and the whole report."""
    code, text = conform(tmp_path, serve, contract, prefix, operation, drift, *auth)
    assert code == 1, capsys.readouterr().out
    section = text.split("## Failures and errors", 1)[1].split(f"### {operation} (positive", 1)[1]
    return [line for line in section.split("\n###", 1)[0].splitlines() if line.startswith("- **")], text


@pytest.fixture
def apsis(monkeypatch):
    monkeypatch.setenv("APSIS_CLIENT_ID", DEFAULTS.apsis_client_id)
    monkeypatch.setenv("APSIS_CLIENT_SECRET", DEFAULTS.apsis_client_secret)
    return "apsis-one.openapi.yaml", "/apsis", "GET /audience/sections", "--auth-from-env"


EXPERTSENDER = ("expertsender-v2.openapi.yaml", "/expertsender")
ES_KEY = ("--query", f"apiKey={DEFAULTS.expertsender_api_key}")


def test_a_renamed_field_is_named(tmp_path, serve, capsys, apsis):
    """APSIS One "Get sections": each section has `discriminator`; the drifted server calls it `key`."""
    contract, prefix, operation, auth = apsis
    rename = drifted.json_items(lambda s: {("key" if k == "discriminator" else k): v for k, v in s.items()})
    lines, report = drift_failures(tmp_path, serve, capsys, contract, prefix, operation, rename, auth)
    assert any("Response violates schema [response_schema_conformance]" in line
               and 'at /items/0: "discriminator" is a required property' in line for line in lines), report


def test_a_changed_type_is_named(tmp_path, serve, capsys, apsis):
    """APSIS One "Get sections": a section `id` is a string (a UUID); the drifted server sends a number."""
    contract, prefix, operation, auth = apsis
    numeric = drifted.json_items(lambda s: {**s, "id": int(s["id"][:8], 16)})
    lines, report = drift_failures(tmp_path, serve, capsys, contract, prefix, operation, numeric, auth)
    assert any("Response violates schema [response_schema_conformance]" in line
               and 'at /items/0/id: ' in line and 'is not of type "string"' in line for line in lines), report


def test_a_dropped_csv_column_is_named(tmp_path, serve, capsys):
    """ExpertSender API v2 "Get subscriber activity": every type's CSV has an `Email` column; the drifted
    server drops it. A CSV body is no JSON to validate: conform's own `csv_columns` check compares the header
    row with the columns the contract declares."""
    lines, report = drift_failures(tmp_path, serve, capsys, *EXPERTSENDER, "GET /v2/Api/Activities",
                                   drifted.csv_without("Email"), *ES_KEY)
    assert any("CSV columns differ from the contract [csv_columns]" in line
               and "missing column 'Email'" in line for line in lines), report


def test_an_undocumented_status_is_named(tmp_path, serve, capsys):
    """ExpertSender API v2 "Server time" documents 200, 403 and 500; the drifted server answers 429 (a rate
    limit the documentation never mentioned: reported at once, not waited out)."""
    lines, report = drift_failures(tmp_path, serve, capsys, *EXPERTSENDER, "GET /v2/Api/Time",
                                   drifted.status("429 Too Many Requests"), *ES_KEY)
    assert any("Undocumented status code [status_code_conformance]" in line and "Received: 429" in line
               for line in lines), report


@pytest.mark.parametrize("operation", ["GET /v2/Api/Activities", "GET /v2/Api/Time"])
def test_without_drift_the_same_runs_pass(tmp_path, serve, operation):
    code, report = conform(tmp_path, serve, *EXPERTSENDER, operation, drifted.unchanged, *ES_KEY)
    assert code == 0 and "1 of 1 operation runs conform" in report, report


def test_without_drift_the_apsis_run_passes(tmp_path, serve, apsis):
    code, report = conform(tmp_path, serve, *apsis[:3], drifted.unchanged, apsis[3])
    assert code == 0 and "1 of 1 operation runs conform" in report, report


def test_an_unknown_operation_is_refused_before_any_request(capsys):
    """`--operation` names operations as the report does ('METHOD /path'); a name the contract lacks is an
    error (exit 2) listing the contract's operations, not an empty run that passes."""
    code = main(["conform", "--contract", "expertsender-v2.openapi.yaml", "--base-url", "http://127.0.0.1:9",
                 "--operation", "GET /v2/Api/Nothing"])
    err = capsys.readouterr().err
    assert code == 2 and "no operation 'GET /v2/Api/Nothing' in " in err and "GET /v2/Api/Time" in err
