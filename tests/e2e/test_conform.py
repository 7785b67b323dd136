"""`email-events-emulator conform` with real credentials against a real `serve` process, for each contract.

Positive, negative and stateful runs; each must exit 0 (every check passes, every operation reaches a 2xx),
no answer may be a server error, and at least a third of all requests (probes included) must be answered 2xx:
the credentials are really used, so the 200 answers are checked, not only the rejections.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from emulator.cli import main

from .server import get_json, running_server

pytestmark = pytest.mark.gunicorn

CONTRACTS = {"apsis-one.openapi.yaml": "/apsis", "expertsender-v2.openapi.yaml": "/expertsender",
             "netcore-email.openapi.yaml": "/netcore", "control.openapi.yaml": ""}


def journal_statuses(report: str) -> list[tuple[str, int]]:
    """(status, count) of every row's `answers` cell in a Markdown report (e.g. `200x25 401x1`)."""
    cells = [line.split(" | ")[4] for line in report.splitlines()
             if line.startswith("| ") and not line.startswith(("| operation ", "|---"))]
    return [(code, int(n)) for cell in cells for code, n in re.findall(r"(\d{3})x(\d+)", cell)]


def _share(out: str) -> dict[str, int]:
    line = next(x for x in out.splitlines() if x.startswith("answers by status class:"))
    return {k: int(n) for k, n in re.findall(r"(\dxx) (\d+)", line)}


@pytest.mark.parametrize("contract", sorted(CONTRACTS))
def test_conform_with_real_credentials_against_a_served_emulator(contract, tmp_path, capsys, monkeypatch):
    # The emulator's default credentials, as a user would export them for --auth-from-env.
    from emulator.settings import Settings

    s = Settings()
    monkeypatch.setenv("APSIS_CLIENT_ID", s.apsis_client_id)
    monkeypatch.setenv("APSIS_CLIENT_SECRET", s.apsis_client_secret)
    monkeypatch.setenv("EXPERTSENDER_API_KEY", s.expertsender_api_key)
    monkeypatch.setenv("NETCORE_API_KEY", s.netcore_api_key)
    auth = ["--auth-from-env"] if CONTRACTS[contract] else []
    with running_server(tmp_path / "s", env={"EMULATOR_EXPORT_DELAY": "0.2"}) as base:
        code = main(["conform", "--contract", contract, "--base-url", base + CONTRACTS[contract], *auth,
                     "--max-examples", "6", "--stateful-examples", "4", "--report", str(tmp_path / "r.md")])
        journal = get_json(base + "/_emulator/journal?limit=10000")["items"]
    out = capsys.readouterr().out
    assert code == 0, out
    share = _share(out)
    assert "5xx" not in share, out
    assert share.get("2xx", 0) * 3 >= sum(share.values()), out
    report = (tmp_path / "r.md").read_text()
    assert "- **answers by status class**: 2xx" in report and "| requests | answers |" in report
    if CONTRACTS[contract]:
        # The report counts every request conform sent, ignored_auth probes and lookups included: by status,
        # what the server's journal recorded (but the token requests of --auth-from-env, which only fetch
        # the credential: urllib's, while conform's own requests go through `requests`).
        sent: Counter = Counter()
        for status, n in journal_statuses(report):
            sent[int(status)] += n
        served = Counter(e["status"] for e in journal
                         if not e["headers"].get("User-Agent", "").startswith("Python-urllib"))
        assert sent == served and sum(sent.values()) > 0, (sent, served)


def test_conform_reports_failures_and_exits_non_zero(tmp_path, capsys):
    # Pointing the control contract at a vendor prefix: every answer is off-contract.
    with running_server(tmp_path / "s") as base:
        code = main(["conform", "--contract", "control.openapi.yaml", "--base-url", base + "/apsis",
                     "--max-examples", "3", "--modes", "positive,negative",
                     "--report", str(tmp_path / "report.md")])
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# Conformance report: ") and "| GET /_emulator/health | positive |" in report
    assert "| FAIL |" in report and f"**base URL**: {base}/apsis" in report
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "FAIL" in captured.out and "not exercised" in captured.out


def test_conform_writes_an_html_report_with_the_contract_header(tmp_path, capsys):
    from emulator import __version__

    with running_server(tmp_path / "s") as base:
        code = main(["conform", "--contract", "control.openapi.yaml", "--base-url", base,
                     "--max-examples", "3",
                     "--report", str(tmp_path / "report.html")])
    assert code == 0, capsys.readouterr().out
    html = (tmp_path / "report.html").read_text()
    assert html.startswith("<!doctype html>")
    assert "<h1>Conformance report: Email-events emulator control API 0.1.0</h1>" in html
    assert f"<li><b>base URL</b>: {base}</li>" in html and f"<li><b>emulator</b>: {__version__}</li>" in html
    assert "<li><b>run at</b>: " in html and "<li><b>answers by status class</b>: 2xx" in html
    assert "<td>GET /_emulator/health</td><td>positive</td>" in html and "Failures and errors" not in html
    assert f"report written to {tmp_path / 'report.html'}" in capsys.readouterr().out
