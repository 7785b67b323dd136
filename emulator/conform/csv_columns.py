"""The `csv_columns` check: a CSV answer's header row against the columns its contract declares.

Schemathesis validates JSON bodies against their schemas, but a CSV body is only a `string` to it: a column
the vendor dropped or renamed would pass every built-in check. A response that carries a CSV file declares its
header in the contract, on the response object:

    x-emulator-csv-columns:
      columns: [activity_id, split_id, ...]   # the header, in order; `more: true` allows columns after them
      by: type                                # or: the query parameter naming one of `tables`
      tables: {Sends: [Date, Email, {Channel: {channel: All}}, ...]}

A column is a name (always present) or `{name: {parameter: value}}`: present exactly when the request's query
parameter has that value (its schema default when absent). The body may be plain or gzip-compressed CSV.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Mapping
from functools import cache
from typing import Any

from .data import parameters, resolve

EXTENSION = "x-emulator-csv-columns"


def declaration(case, status: int) -> Mapping | None:
    """The columns declaration of the response the operation documents for `status`, if any."""
    raw = case.operation.schema.raw_schema
    responses = case.operation.definition.raw.get("responses") or {}
    response = resolve(raw, responses.get(str(status)) or responses.get(f"{status // 100}XX") or {})
    return response.get(EXTENSION) if isinstance(response, Mapping) else None


def header_row(content: bytes) -> list[str] | None:
    """The first row of a plain or gzip CSV body (only the start of a gzip file is decompressed)."""
    if content[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as handle:
            try:
                first = handle.readline(1 << 20)
            except (OSError, EOFError):
                return None
    else:
        first = content.split(b"\n", 1)[0]
    text = first.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
    return next(csv.reader([text]), []) if text else None


def expected_columns(spec: Mapping, query: Mapping[str, Any],
                     defaults: Mapping[str, Any]) -> list[str] | None:
    """The header the declaration gives for a request with `query` (None: it names no known table)."""
    if "tables" in spec:
        items = spec["tables"].get(str(_value(query, defaults, spec["by"])))
        if items is None:
            return None
    else:
        items = spec["columns"]
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
            continue
        (name, condition), = item.items()
        if all(_same(_value(query, defaults, p), v) for p, v in condition.items()):
            names.append(name)
    return names


def _value(query: Mapping[str, Any], defaults: Mapping[str, Any], name: str) -> Any:
    value = query.get(name, defaults.get(name))
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _same(actual: Any, wanted: Any) -> bool:
    return str(actual).lower() == str(wanted).lower()


def _defaults(case) -> dict[str, Any]:
    op = case.operation
    out = {}
    for p in parameters(op.schema.raw_schema, op.path, op.method):
        if isinstance(p, Mapping) and p.get("in") == "query":
            default = resolve(op.schema.raw_schema, p.get("schema") or {}).get("default")
            if default is not None:
                out[p["name"]] = default
    return out


def difference(expected: list[str], actual: list[str], more: bool = False) -> str | None:
    """What differs between the declared and the received header, in words; None when they match."""
    received = actual[:len(expected)] if more and actual[:len(expected)] == expected else actual
    if received == expected:
        return None
    parts = []
    missing = [c for c in expected if c not in actual]
    extra = [c for c in (actual[:len(expected)] if more else actual) if c not in expected]
    if missing:
        parts.append(_named("missing", missing))
    if extra:
        parts.append(_named("undocumented", extra))
    if not parts:
        parts.append("columns out of order")
    return "; ".join(parts) + f". Declared: {', '.join(expected)}. Received: {', '.join(actual)}"


def _named(what: str, names: list[str]) -> str:
    return f"{what} column{'s' * (len(names) > 1)} " + ", ".join(f"'{c}'" for c in names)


def _failure_class():
    from schemathesis.core.failures import Failure

    class CsvColumnsMismatch(Failure):
        """The CSV header differs from the contract's declared columns."""

        checks = ("csv_columns",)
        kind_title = "CSV columns differ from the contract"

    return CsvColumnsMismatch


@cache
def register():
    """Register `csv_columns` with schemathesis (once a process); returns the check function."""
    import schemathesis

    failure = _failure_class()

    def csv_columns(ctx, response, case):
        """A CSV (or gzip CSV) answer's header row is the one the contract declares for the request."""
        spec = declaration(case, response.status_code)
        if not spec:
            return True  # nothing declared: skipped
        expected = expected_columns(spec, case.query or {}, _defaults(case))
        actual = header_row(response.content or b"")
        if expected is None:
            return True
        if actual is None:
            raise failure(operation=case.operation.label, message=f"No CSV header row; declared: "
                                                                   f"{', '.join(expected)}")
        problem = difference(expected, actual, bool(spec.get("more")))
        if problem:
            raise failure(operation=case.operation.label, message=problem)
        return None

    return schemathesis.check(csv_columns)
