"""`conform --report` (issue 8): a readable Markdown or HTML report of what the server did per operation."""

from __future__ import annotations

from collections import Counter

from emulator.conform import Row, credential_parts, report_html, report_markdown, write_report

META = {"title": "APSIS One 1.0", "contract": "apsis-one.openapi.yaml", "base URL": "https://api.example",
        "run at": "2026-11-23 10:00:00 UTC"}
ROWS = [
    Row("GET /audience/sections", "positive", examples=25, statuses=Counter({200: 25, 401: 1, 403: 1})),
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
    assert "| GET /audience/sections | positive | 25 | 27 | 200x25 401x1 403x1 | ok |  |" in text
    assert "| FAIL | Undocumented HTTP status code: Received: 418 \\| Documented: 200, 401 |" in text
    assert "| error | ConnectionError: refused |" in text and "no negative data possible" in text


def test_html_escapes_every_value(tmp_path):
    rows = [Row("GET /<script>", "positive", failures={"<b>": "a & b"})]
    html = report_html(rows, {**META, "title": "T<i>"})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a &amp; b" in html and "T&lt;i&gt;" in html
    write_report(rows, str(tmp_path / "r.html"), META)
    write_report(rows, str(tmp_path / "r.md"), META)
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    assert (tmp_path / "r.md").read_text().startswith("# Conformance report")


def test_totals_and_a_section_per_failing_run_with_each_failure():
    rows = [*ROWS, Row("GET /x", "positive", examples=4, failures={
        "Server error": "Received: 500\nTraceback...",
        "Response violates schema": "'id' is a <required> property"})]
    text = report_markdown(rows, META)
    assert ("- **totals**: 4 operations, 57 examples run, 27 requests sent; 2 runs ok, 2 failed, "
            "0 not exercised, 1 errors") in text
    assert "- **answers by status class**: 2xx 25 (93%), 4xx 2 (7%)" in text
    section = text.split("## Failures and errors", 1)[1]
    assert "### GET /audience/sections (negative, 25 examples)" in section
    assert ("### POST /emails/reports (positive, 3 examples)\n\n- **error**: ConnectionError: refused"
            in section)
    assert "- **Server error**: Received: 500 Traceback..." in section  # one line per failure
    assert "- **Response violates schema**: 'id' is a &lt;required&gt; property" in section  # no raw HTML
    assert "GET /tags" not in section  # a note is not a failure


def test_an_all_ok_run_has_no_failure_section():
    rows = [Row("GET /tags", "positive", examples=5)]
    assert "Failures" not in report_markdown(rows, META) and "Failures" not in report_html(rows, META)
    assert "1 of 1 operation runs conform, 0 do not" in report_html(rows, META)


def test_html_failure_section_is_escaped_too():
    html = report_html([Row("GET /a&b", "negative", examples=1, error="boom <x>",
                            failures={"t<1>": "m\"2\""})], META)
    details = html.split("<h2>Failures and errors</h2>", 1)[1]
    assert "<h3>GET /a&amp;b (negative, 1 examples)</h3>" in details
    assert "<li><b>error</b>: boom &lt;x&gt;</li>" in details
    assert "<b>t&lt;1&gt;</b>: m&quot;2&quot;" in details


def test_an_operation_that_never_reached_a_2xx_is_not_exercised_and_fails():
    row = Row("GET /emails/reports/{report_id}", "positive", examples=5, statuses=Counter({404: 5}),
              exercised=False, note="no 2xx answer in positive or stateful mode")
    assert not row.ok
    text = report_markdown([row], META)
    assert "| 5 | 404x5 | not exercised |" in text and "- **not exercised**: answers 404x5" in text
    assert "0 of 1 operation runs conform" in text and "answers by status class**: 4xx 5 (100%)" in text


def test_credentials_go_where_the_operation_security_scheme_says():
    """Netcore Email API: v5.1 reads the `api_key` header, v6 the Bearer header; an operation with
    `security: []` (the APSIS token endpoint, a signed download URL) gets none."""
    schema = {"components": {"securitySchemes": {
        "apiKey": {"type": "apiKey", "in": "header", "name": "api_key"},
        "bearer": {"type": "http", "scheme": "bearer"},
        "q": {"type": "apiKey", "in": "query", "name": "apiKey"}}}, "security": [{"apiKey": []}]}
    creds = {"apiKey": "K", "bearer": lambda: "T", "q": "Q", "client_id": "C"}
    assert credential_parts({}, schema, creds)["headers"] == {"api_key": "K"}
    bearer = credential_parts({"security": [{"bearer": []}]}, schema, creds)
    assert bearer["headers"] == {"Authorization": "Bearer T"}
    assert credential_parts({"security": [{"q": []}]}, schema, creds)["query"] == {"apiKey": "Q"}
    none = credential_parts({"security": [], "x-emulator-body-credentials": ["client_id"]}, schema, creds)
    assert none == {"headers": {}, "query": {}, "body": {"client_id": "C"}}


def test_drawn_headers_that_frame_the_message_are_dropped():
    """A negative case may draw any extra header; one that frames the HTTP message (Content-Length,
    Transfer-Encoding, Host...) makes the HTTP server answer 400 before the API sees the request (RFC 9112),
    which is no finding about the contract: conform leaves those to the HTTP client."""
    from types import SimpleNamespace

    from emulator.conform import without_framing_headers

    case = SimpleNamespace(headers={"Content-Length": "8,uBong+sM", "transfer-encoding": "x", "Host": "h",
                                    "Authorization": "Rx%", "I": ""})
    assert without_framing_headers(None, case).headers == {"Authorization": "Rx%", "I": ""}
