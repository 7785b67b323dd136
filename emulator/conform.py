"""`email-events-emulator conform`: run a contract's schemathesis checks against any server.

The same checks the contract tests run in-process (positive and negative data, every schemathesis check
but those an operation turns off with `x-emulator-skip-checks`), against a URL: the emulator, or the real
vendor to see whether it still matches the contract. Prints one row per operation and mode.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

# schemathesis is a test dependency: imported lazily so `serve` never needs it.


@dataclass
class Row:
    operation: str
    mode: str
    examples: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # failure title -> first message
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures and self.error is None


def skipped_checks(case) -> list:
    from schemathesis import checks

    names = case.operation.definition.raw.get("x-emulator-skip-checks") or {}
    return [getattr(checks, name) for name in names]


def merge_auth(case, auth: dict[str, dict[str, str]]) -> dict[str, str]:
    """Put query credentials in the case (replacing generated ones); return the credential headers to send.

    Schemathesis' ignored_auth check then re-sends the case with the credential removed or altered."""
    if auth.get("query"):
        case.query = {**(case.query or {}), **auth["query"]}
        # Tell schemathesis these are real credentials, not generated ones, so that its ignored_auth
        # check probes without them instead of expecting this request to fail.
        case._has_explicit_auth = True
    return {k: v for k, v in (auth.get("headers") or {}).items() if k not in (case.headers or {})}


def run(contract_path: str, base_url: str, auth: dict[str, dict[str, str]], *, max_examples: int = 25,
        modes: tuple[str, ...] = ("positive", "negative"), app: Any = None) -> list[Row]:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.core.failures import FailureGroup

    schema = schemathesis.openapi.from_path(contract_path)
    schema.config.update(base_url=base_url)
    if app is not None:
        schema.app = app  # in-process: every call, probes included, goes to the WSGI app
    rows: list[Row] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            row = Row(operation.label, mode)
            rows.append(row)
            strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
            check = _checker(row, strategy, auth, app, max_examples, given, settings, HealthCheck, FailureGroup)
            try:
                check()
            except Unsatisfiable:
                row.note = f"no {mode} data possible"
            except Exception as exc:  # noqa: BLE001  (a transport error: the server could not be reached...)
                row.error = f"{type(exc).__name__}: {exc}"
    return rows


def _checker(row, strategy, auth, app, max_examples, given, settings, health_check, failure_group):
    @given(case=strategy)
    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(health_check))
    def check(case):
        row.examples += 1
        headers = merge_auth(case, auth)
        kwargs = {"app": app} if app is not None else {}
        try:
            case.call_and_validate(headers=headers, excluded_checks=skipped_checks(case), **kwargs)
        except failure_group as group:
            for failure in group.exceptions:
                row.failures.setdefault(failure.title, str(failure.message).strip().splitlines()[0])

    return check


def print_table(rows: list[Row], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    width = max([len(r.operation) for r in rows] + [9])
    out.write(f"{'operation':<{width}}  {'mode':<8}  {'examples':>8}  result\n")
    out.write(f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 40}\n")
    for r in rows:
        if r.error:
            result = f"ERROR {r.error}"
        elif r.failures:
            result = "FAIL " + "; ".join(f"{t}: {m}" for t, m in r.failures.items())
        else:
            result = f"ok ({r.note})" if r.note else "ok"
        out.write(f"{r.operation:<{width}}  {r.mode:<8}  {r.examples:>8}  {result}\n")
    failed = sum(1 for r in rows if not r.ok)
    out.write(f"\nconformance: {len(rows) - failed} of {len(rows)} operation runs conform, {failed} do not\n")


def _result(row: Row) -> tuple[str, str]:
    """(verdict, detail) of one operation run."""
    if row.error:
        return "error", row.error
    if row.failures:
        return "FAIL", "; ".join(f"{title}: {message}" for title, message in row.failures.items())
    return "ok", row.note


def _totals(rows: list[Row]) -> tuple[str, str]:
    """(result line, totals line) of a run."""
    failed = sum(1 for r in rows if not r.ok)
    errors = sum(1 for r in rows if r.error)
    result = f"{len(rows) - failed} of {len(rows)} operation runs conform, {failed} do not"
    totals = (f"{len({r.operation for r in rows})} operations, {sum(r.examples for r in rows)} examples run; "
              f"{len(rows) - failed} runs ok, {failed - errors} failed, {errors} errors, "
              f"{sum(1 for r in rows if r.note)} notes")
    return result, totals


def _md(text: object) -> str:
    """A value inside a Markdown table cell or list: one line, pipes escaped, no raw HTML."""
    return (str(text).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;"))


def report_markdown(rows: list[Row], meta: dict[str, str]) -> str:
    """A Markdown report of a conform run: what the server did, per operation and mode, against the contract."""
    result, totals = _totals(rows)
    lines = [f"# Conformance report: {_md(meta['title'])}", ""]
    lines += [f"- **{_md(key)}**: {_md(value)}" for key, value in meta.items() if key != "title"]
    lines += [f"- **result**: {result}", f"- **totals**: {totals}", "",
              "| operation | mode | examples | result | detail |", "|---|---|---:|---|---|"]
    for r in rows:
        verdict, detail = _result(r)
        lines.append("| " + " | ".join(_md(c) for c in (r.operation, r.mode, r.examples, verdict, detail)) + " |")
    bad = [r for r in rows if not r.ok]
    if bad:
        lines += ["", "## Failures and errors"]
        for r in bad:
            lines += ["", f"### {_md(r.operation)} ({_md(r.mode)}, {r.examples} examples)", ""]
            if r.error:
                lines.append(f"- **error**: {_md(r.error)}")
            lines += [f"- **{_md(title)}**: {_md(message)}" for title, message in r.failures.items()]
    return "\n".join(lines) + "\n"


def report_html(rows: list[Row], meta: dict[str, str]) -> str:
    """The same report as a standalone HTML page (every value escaped)."""
    from html import escape

    def e(value: object) -> str:
        return escape(str(value))

    result, totals = _totals(rows)
    items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in meta.items() if k != "title")
    items += f"<li><b>result</b>: {e(result)}</li><li><b>totals</b>: {e(totals)}</li>"
    body = "".join(
        f'<tr class="{"ok" if r.ok else "bad"}"><td>{e(r.operation)}</td><td>{e(r.mode)}</td>'
        f'<td class="n">{r.examples}</td><td>{e(_result(r)[0])}</td><td>{e(_result(r)[1])}</td></tr>'
        for r in rows)
    details = ""
    bad = [r for r in rows if not r.ok]
    if bad:
        details = "<h2>Failures and errors</h2>" + "".join(
            f"<h3>{e(r.operation)} ({e(r.mode)}, {r.examples} examples)</h3><ul>"
            + (f"<li><b>error</b>: {e(r.error)}</li>" if r.error else "")
            + "".join(f"<li><b>{e(t)}</b>: {e(m)}</li>" for t, m in r.failures.items()) + "</ul>"
            for r in bad)
    title = e(meta["title"])
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Conformance report: {title}</title>"
            f"<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}"
            f"td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}"
            f"td.n{{text-align:right}}tr.bad{{background:#fdd}}</style></head><body>"
            f"<h1>Conformance report: {title}</h1><ul>{items}</ul><table><tr><th>operation</th><th>mode</th>"
            f"<th>examples</th><th>result</th><th>detail</th></tr>{body}</table>{details}</body></html>\n")


def write_report(rows: list[Row], path: str, meta: dict[str, str]) -> None:
    """Markdown for a .md path, HTML for .html / .htm."""
    text = report_html(rows, meta) if path.lower().endswith((".html", ".htm")) else report_markdown(rows, meta)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
