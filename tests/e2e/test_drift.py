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


def conform(base: str, contract: str, operation: str, report, *auth: str) -> tuple[int, str, str]:
    code = main(["conform", "--contract", contract, "--base-url", base, *auth, "--operation", operation,
                 "--modes", "positive", "--max-examples", "3", "--report", str(report)])
    return code, report.read_text(), operation


def failure_lines(report: str, operation: str) -> list[str]:
    section = report.split("## Failures and errors", 1)[1].split(f"### {operation} (positive", 1)[1]
    return [line for line in section.split("\n###", 1)[0].splitlines() if line.startswith("- **")]


@pytest.fixture
def apsis_env(monkeypatch):
    monkeypatch.setenv("APSIS_CLIENT_ID", DEFAULTS.apsis_client_id)
    monkeypatch.setenv("APSIS_CLIENT_SECRET", DEFAULTS.apsis_client_secret)


def test_a_renamed_field_is_named(tmp_path, apsis_env, capsys):
    """APSIS One "Get sections": each section has `discriminator`; the drifted server calls it `key`."""
    rename = drifted.json_items(lambda s: {("key" if k == "discriminator" else k): v for k, v in s.items()})
    with drifted.served(tmp_path / "s", "/apsis/audience/sections", rename) as base:
        code, report, op = conform(base + "/apsis", "apsis-one.openapi.yaml", "GET /audience/sections",
                                   tmp_path / "r.md", "--auth-from-env")
    lines = failure_lines(report, op)
    assert code == 1, capsys.readouterr().out
    assert any("Response violates schema [response_schema_conformance]" in line
               and 'at /items/0: "discriminator" is a required property' in line for line in lines), report


def test_a_changed_type_is_named(tmp_path, apsis_env, capsys):
    """APSIS One "Get sections": a section `id` is a string (a UUID); the drifted server sends a number."""
    numeric = drifted.json_items(lambda s: {**s, "id": int(s["id"][:8], 16)})
    with drifted.served(tmp_path / "s", "/apsis/audience/sections", numeric) as base:
        code, report, op = conform(base + "/apsis", "apsis-one.openapi.yaml", "GET /audience/sections",
                                   tmp_path / "r.md", "--auth-from-env")
    lines = failure_lines(report, op)
    assert code == 1, capsys.readouterr().out
    assert any("Response violates schema [response_schema_conformance]" in line
               and 'at /items/0/id: ' in line and 'is not of type "string"' in line for line in lines), report


def test_a_dropped_csv_column_is_named(tmp_path, capsys):
    """ExpertSender API v2 "Get subscriber activity": every type's CSV has an `Email` column; the drifted
    server drops it. A CSV body is no JSON to validate: conform's own `csv_columns` check compares the header
    row with the columns the contract declares."""
    path, drift = "/expertsender/v2/Api/Activities", drifted.csv_without("Email")
    with drifted.served(tmp_path / "s", path, drift) as base:
        code, report, op = conform(base + "/expertsender", "expertsender-v2.openapi.yaml",
                                   "GET /v2/Api/Activities", tmp_path / "r.md",
                                   "--query", f"apiKey={DEFAULTS.expertsender_api_key}")
    lines = failure_lines(report, op)
    assert code == 1, capsys.readouterr().out
    assert any("CSV columns differ from the contract [csv_columns]" in line
               and "missing column 'Email'" in line for line in lines), report


def test_an_undocumented_status_is_named(tmp_path, capsys):
    """ExpertSender API v2 "Server time" documents 200, 403 and 500; the drifted server answers 429."""
    path, drift = "/expertsender/v2/Api/Time", drifted.status("429 Too Many Requests")
    with drifted.served(tmp_path / "s", path, drift) as base:
        code, report, op = conform(base + "/expertsender", "expertsender-v2.openapi.yaml", "GET /v2/Api/Time",
                                   tmp_path / "r.md", "--query", f"apiKey={DEFAULTS.expertsender_api_key}")
    lines = failure_lines(report, op)
    assert code == 1, capsys.readouterr().out
    assert any("Undocumented status code [status_code_conformance]" in line and "Received: 429" in line
               for line in lines), report


def test_an_unknown_operation_is_refused_before_any_request(capsys):
    """`--operation` names operations as the report does ('METHOD /path'); a name the contract lacks is an
    error (exit 2) listing the contract's operations, not an empty run that passes."""
    code = main(["conform", "--contract", "expertsender-v2.openapi.yaml", "--base-url", "http://127.0.0.1:9",
                 "--operation", "GET /v2/Api/Nothing"])
    err = capsys.readouterr().err
    assert code == 2 and "no operation 'GET /v2/Api/Nothing' in " in err and "GET /v2/Api/Time" in err
