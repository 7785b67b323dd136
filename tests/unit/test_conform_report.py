"""`conform --report` (issue 8): a readable Markdown or HTML report of what the server did per operation."""

from __future__ import annotations

from emulator.conform import Row, report_html, report_markdown, write_report

META = {"title": "APSIS One 1.0", "contract": "apsis-one.openapi.yaml", "base URL": "https://api.example",
        "run at": "2026-11-23 10:00:00 UTC"}
ROWS = [
    Row("GET /audience/sections", "positive", examples=25),
    Row("GET /audience/sections", "negative", examples=25,
        failures={"Undocumented HTTP status code": "Received: 418 | Documented: 200, 401"}),
    Row("POST /emails/reports", "positive", examples=3, error="ConnectionError: refused"),
    Row("GET /tags", "negative", note="no negative data possible"),
]


def test_markdown_lists_every_run_with_its_verdict_and_totals():
    text = report_markdown(ROWS, META)
    assert text.startswith("# Conformance report: APSIS One 1.0\n")
    assert "- **base URL**: https://api.example" in text
    assert "2 of 4 operation runs conform, 2 do not" in text
    assert "| GET /audience/sections | positive | 25 | ok |  |" in text
    assert "| FAIL | Undocumented HTTP status code: Received: 418 \\| Documented: 200, 401 |" in text
    assert "| error | ConnectionError: refused |" in text and "no negative data possible" in text


def test_html_escapes_every_value(tmp_path):
    rows = [Row("GET /<script>", "positive", failures={"<b>": "a & b"})]
    html = report_html(rows, {**META, "title": "T<i>"})
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &amp; b" in html and "T&lt;i&gt;" in html
    write_report(rows, str(tmp_path / "r.html"), META)
    write_report(rows, str(tmp_path / "r.md"), META)
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    assert (tmp_path / "r.md").read_text().startswith("# Conformance report")
