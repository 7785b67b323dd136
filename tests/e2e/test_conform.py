"""`email-events-emulator conform` runs a contract's checks against a live server and prints a table."""

from __future__ import annotations

import pytest

from emulator.cli import main

from .server import running_server

pytestmark = pytest.mark.gunicorn


def test_conform_passes_the_control_contract_against_a_running_emulator(tmp_path, capsys):
    with running_server(tmp_path / "s") as base:
        code = main(["conform", "--contract", "control.openapi.yaml", "--base-url", base, "--max-examples", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "GET /_emulator/health" in out and "FAIL" not in out


def test_conform_reports_failures_and_exits_non_zero(tmp_path, capsys):
    # Pointing the control contract at a vendor prefix: every answer is off-contract.
    with running_server(tmp_path / "s") as base:
        code = main(["conform", "--contract", "control.openapi.yaml", "--base-url", base + "/apsis",
                     "--max-examples", "3", "--report", str(tmp_path / "report.md")])
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# Conformance report: ") and "| GET /_emulator/health | positive |" in report
    assert "| FAIL |" in report and f"**base URL**: {base}/apsis" in report
    captured = capsys.readouterr()
    out = captured.out
    assert code == 1, captured.err
    assert "FAIL" in out


def test_conform_writes_an_html_report_with_the_contract_header(tmp_path, capsys):
    from emulator import __version__

    with running_server(tmp_path / "s") as base:
        code = main(["conform", "--contract", "control.openapi.yaml", "--base-url", base, "--max-examples", "3",
                     "--report", str(tmp_path / "report.html")])
    assert code == 0, capsys.readouterr().out
    html = (tmp_path / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "<h1>Conformance report: Email-events emulator control API 0.1.0</h1>" in html
    assert f"<li><b>base URL</b>: {base}</li>" in html and f"<li><b>emulator</b>: {__version__}</li>" in html
    assert "<li><b>run at</b>: " in html and "<li><b>result</b>: " in html and "do not" in html
    assert "<td>GET /_emulator/health</td><td>positive</td>" in html and "Failures and errors" not in html
    assert f"report written to {tmp_path / 'report.html'}" in capsys.readouterr().out
