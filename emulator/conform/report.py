"""Reports of a conform run: a printed table, and the same as Markdown or HTML (every value escaped)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from . import Row


def status_summary(statuses: Mapping[int, int]) -> str:
    return " ".join(f"{code}x{n}" for code, n in sorted(statuses.items())) or "-"


def status_classes(rows: list[Row]) -> Counter:
    classes: Counter = Counter()
    for r in rows:
        for code, n in r.statuses.items():
            classes[f"{code // 100}xx"] += n
    return classes


def _result(row: Row) -> tuple[str, str]:
    """(verdict, detail) of one operation run."""
    if row.error:
        return "error", row.error
    if row.failures:
        return "FAIL", "; ".join(f"{title}: {message}" for title, message in row.failures.items())
    if row.exercised is False:
        return "not exercised", row.note
    return "ok", row.note


def _totals(rows: list[Row]) -> tuple[str, str, str]:
    """(result line, totals line, status classes line) of a run; requests and classes include the lookups."""
    runs = [r for r in rows if r.mode != "setup"]
    failed = sum(1 for r in runs if not r.ok)
    errors = sum(1 for r in runs if r.error)
    unexercised = sum(1 for r in runs if r.exercised is False)
    result = f"{len(runs) - failed} of {len(runs)} operation runs conform, {failed} do not"
    totals = (f"{len({r.operation for r in runs})} operations, {sum(r.examples for r in runs)} examples run, "
              f"{sum(r.requests for r in rows)} requests sent; {len(runs) - failed} runs ok, "
              f"{failed - errors - unexercised} failed, {unexercised} not exercised, {errors} errors")
    classes = status_classes(rows)
    total = sum(classes.values()) or 1
    by_class = ", ".join(f"{k} {n} ({100 * n / total:.0f}%)" for k, n in sorted(classes.items())) or "none"
    return result, totals, f"answers by status class: {by_class}"


def print_table(rows: list[Row], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    width = max([len(r.operation) for r in rows] + [9])
    out.write(f"{'operation':<{width}}  {'mode':<8}  {'examples':>8}  {'requests':>8}  {'answers':<24}  "
              "result\n")
    out.write(f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 8}  {'-' * 24}  {'-' * 30}\n")
    for r in rows:
        verdict, detail = _result(r)
        result = f"{verdict} ({detail})" if detail and verdict == "ok" else (
            f"{verdict} {detail}" if detail else verdict)
        out.write(f"{r.operation:<{width}}  {r.mode:<8}  {r.examples:>8}  {r.requests:>8}  "
                  f"{status_summary(r.statuses):<24}  {result}\n")
    result, totals, classes = _totals(rows)
    out.write(f"\nconformance: {result}\n{totals}\n{classes}\n")


def _md(text: object) -> str:
    """A value inside a Markdown table cell or list: one line, pipes escaped, no raw HTML."""
    return (str(text).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;"))


def report_markdown(rows: list[Row], meta: dict[str, str]) -> str:
    """A Markdown report of a conform run: what the server did, per operation and mode."""
    result, totals, classes = _totals(rows)
    lines = [f"# Conformance report: {_md(meta['title'])}", ""]
    lines += [f"- **{_md(key)}**: {_md(value)}" for key, value in meta.items() if key != "title"]
    name, _, value = classes.partition(": ")
    lines += [f"- **result**: {result}", f"- **totals**: {totals}", f"- **{name}**: {_md(value)}", "",
              "| operation | mode | examples | requests | answers | result | detail |",
              "|---|---|---:|---:|---|---|---|"]
    for r in rows:
        verdict, detail = _result(r)
        cells = (r.operation, r.mode, r.examples, r.requests, status_summary(r.statuses), verdict, detail)
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    bad = [r for r in rows if not r.ok]
    if bad:
        lines += ["", "## Failures and errors"]
        for r in bad:
            lines += ["", f"### {_md(r.operation)} ({_md(r.mode)}, {r.examples} examples)", ""]
            if r.error:
                lines.append(f"- **error**: {_md(r.error)}")
            if r.exercised is False:
                lines.append(f"- **not exercised**: answers {_md(status_summary(r.statuses))}")
            lines += [f"- **{_md(title)}**: {_md(message)}" for title, message in r.failures.items()]
    return "\n".join(lines) + "\n"


def report_html(rows: list[Row], meta: dict[str, str]) -> str:
    """The same report as a standalone HTML page (every value escaped)."""
    from html import escape

    def e(value: object) -> str:
        return escape(str(value))

    result, totals, classes = _totals(rows)
    items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in meta.items() if k != "title")
    name, _, value = classes.partition(": ")
    items += (f"<li><b>result</b>: {e(result)}</li><li><b>totals</b>: {e(totals)}</li>"
              f"<li><b>{e(name)}</b>: {e(value)}</li>")
    body = "".join(
        f'<tr class="{"ok" if r.ok else "bad"}"><td>{e(r.operation)}</td><td>{e(r.mode)}</td>'
        f'<td class="n">{r.examples}</td><td class="n">{r.requests}</td>'
        f'<td>{e(status_summary(r.statuses))}</td>'
        f'<td>{e(_result(r)[0])}</td><td>{e(_result(r)[1])}</td></tr>'
        for r in rows)
    details = ""
    bad = [r for r in rows if not r.ok]
    if bad:
        details = "<h2>Failures and errors</h2>" + "".join(
            f"<h3>{e(r.operation)} ({e(r.mode)}, {r.examples} examples)</h3><ul>"
            + (f"<li><b>error</b>: {e(r.error)}</li>" if r.error else "")
            + (f"<li><b>not exercised</b>: answers {e(status_summary(r.statuses))}</li>"
               if r.exercised is False else "")
            + "".join(f"<li><b>{e(t)}</b>: {e(m)}</li>" for t, m in r.failures.items()) + "</ul>"
            for r in bad)
    title = e(meta["title"])
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Conformance report: {title}</title>"
            f"<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}"
            f"td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}"
            f"td.n{{text-align:right}}tr.bad{{background:#fdd}}</style></head><body>"
            f"<h1>Conformance report: {title}</h1><ul>{items}</ul><table><tr><th>operation</th><th>mode</th>"
            f"<th>examples</th><th>requests</th><th>answers</th><th>result</th><th>detail</th></tr>{body}</table>"
            f"{details}</body></html>\n")


def write_report(rows: list[Row], path: str, meta: dict[str, str]) -> None:
    """Markdown for a .md path, HTML for .html / .htm."""
    html = path.lower().endswith((".html", ".htm"))
    text = report_html(rows, meta) if html else report_markdown(rows, meta)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


