"""`email-events-emulator conform`: run a contract's schemathesis checks against any server.

The checks the contract tests run in-process, against a URL: the emulator, or the real vendor to see whether
it still matches the contract. Three modes per operation: positive and negative data, and the stateful phase,
which follows the contract's OpenAPI `links` (request an export -> poll its status -> fetch the file). Every
check runs (schemathesis' own and conform's `csv_columns`) but those an operation turns off with
`x-emulator-skip-checks`.

Credentials go through schemathesis' own auth mechanism (an auth provider registered on the schema), so that
the real credential replaces whatever schemathesis generated for the security parameters, while its
ignored_auth check still probes each operation without and with wrong credentials on purpose.

A report row counts every request sent (probes included) by status. An operation whose positive and stateful
requests never got a 2xx is "not exercised" and fails the run, unless the operation declares the statuses it
legitimately answers: `x-emulator-expected-statuses: {statuses: [...], reason: ...}`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .data import Lookups, PositiveHints

# schemathesis is an optional dependency (the `conform` extra): imported lazily so `serve` never needs it.

Credentials = Mapping[str, "str | Callable[[], str]"]  # security scheme or body field name -> value or getter
MODES = ("positive", "negative", "stateful")
LOOKUPS = "(lookups before the run)"  # the row of the requests made for x-emulator-values-from


class CredentialError(Exception):
    """Credentials could not be obtained (e.g. the token endpoint refused): the run stops with this line."""


@dataclass
class Row:
    operation: str
    mode: str
    examples: int = 0
    statuses: Counter = field(default_factory=Counter)  # status code -> requests answered with it
    failures: dict[str, str] = field(default_factory=dict)  # failure title -> first message and example
    error: str | None = None
    note: str = ""
    exercised: bool | None = None  # positive rows: did the operation ever reach a 2xx (or a declared status)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> bool:
        return not self.failures and self.error is None and self.exercised is not False


# --- credentials ---------------------------------------------------------------------------------------


def _value(item: str | Callable[[], str]) -> str:
    return item() if callable(item) else item


def credential_parts(operation_raw: Mapping, schema_raw: Mapping, creds: Credentials) -> dict[str, dict]:
    """The headers, query parameters and body fields that carry `creds` for one operation.

    The first security requirement of the operation (or of the whole contract) whose schemes all have a
    credential wins; an operation with `security: []` gets none. `x-emulator-body-credentials` lists body
    fields filled from `creds` of the same name (e.g. the client credentials of a token endpoint)."""
    parts: dict[str, dict] = {"headers": {}, "query": {}, "body": {}}
    schemes = (schema_raw.get("components") or {}).get("securitySchemes") or {}
    requirements = operation_raw.get("security", schema_raw.get("security", []))
    for requirement in requirements or []:
        if requirement and all(name in creds and name in schemes for name in requirement):
            for name in requirement:
                scheme, value = schemes[name], _value(creds[name])
                if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
                    parts["headers"]["Authorization"] = f"Bearer {value}"
                elif scheme.get("type") == "apiKey" and scheme.get("in") in ("header", "query"):
                    parts["headers" if scheme["in"] == "header" else "query"][scheme["name"]] = value
            break
    for name in operation_raw.get("x-emulator-body-credentials") or []:
        if name in creds:
            parts["body"][name] = _value(creds[name])
    return parts


def _is_positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode.value == "positive"


def install_auth(schema, creds: Credentials) -> None:
    """Register an auth provider on `schema` that puts `creds` into every case of every operation."""

    class ContractAuth:
        def get(self, case, context):
            parts = credential_parts(case.operation.definition.raw, case.operation.schema.raw_schema, creds)
            if parts["body"] and not (_is_positive(case) and isinstance(case.body, dict)):
                parts["body"] = {}
            return parts if any(parts.values()) else None

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), **data["headers"]}
            case.query = {**(case.query or {}), **data["query"]}
            if data["body"]:
                case.body = {**case.body, **data["body"]}

    # refresh_interval=None: no schemathesis cache; a token getter refreshes by its own expiry.
    schema.auth(refresh_interval=None)(ContractAuth)


# Headers that frame the HTTP message: the client's to set (RFC 9110/9112), not the API's to validate.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection", "te", "trailer",
                             "upgrade", "expect"})


def without_framing_headers(context, case):
    """A `map_case` hook: drawn extra headers that frame the message go (a `Content-Length: 8,uB` makes the
    HTTP server refuse the request with 400 before the API sees it, which says nothing about the contract)."""
    if isinstance(case.headers, Mapping):
        for name in [n for n in case.headers if n.lower() in FRAMING_HEADERS]:
            del case.headers[name]
    return case


# --- request counting ----------------------------------------------------------------------------------


class Tally:
    """Counts every answer (ignored_auth probes included) into the row being run; the lookups made before the
    run (`x-emulator-values-from`) into a row of their own."""

    def __init__(self) -> None:
        self.row: Row | None = None
        self.setup = Row(LOOKUPS, "setup")
        self.sessions: list = []

    def add(self, status: int) -> None:
        (self.row or self.setup).statuses[status] += 1

    def wsgi(self, app):
        def counted(environ, start_response):
            def start(status, headers, exc_info=None):
                self.add(int(status[:3]))
                return start_response(status, headers, exc_info)

            return app(environ, start)

        return counted

    @staticmethod
    def decoded(app):
        """The app's answers with Content-Encoding gzip undone, as an HTTP client (requests) undoes it."""
        import gzip

        def decoding(environ, start_response):
            captured: list = []
            body = b"".join(app(environ, lambda status, headers, exc_info=None: captured.extend(
                [status, headers])))
            status, headers = captured
            if any(k.lower() == "content-encoding" and v.lower() == "gzip" for k, v in headers):
                body = gzip.decompress(body)
                headers = [(k, v) for k, v in headers
                           if k.lower() not in ("content-encoding", "content-length")]
                headers.append(("Content-Length", str(len(body))))
            start_response(status, headers)
            return [body]

        return decoding

    def transport(self) -> dict:
        """Keyword arguments for every request sent over HTTP: one session, and a response hook that counts.
        The hook goes with each request, not on the session: schemathesis sends its ignored_auth probes
        without the run's session but with its other keyword arguments."""
        import requests

        self.sessions.append(requests.Session())
        return {"session": self.sessions[-1], "hooks": {"response": [self._counted]}}

    def _counted(self, response, *args, **kwargs):
        self.add(response.status_code)

    def close(self) -> None:
        """Close the run's session (its pooled connections)."""
        for session in self.sessions:
            session.close()


# --- the run -------------------------------------------------------------------------------------------


def skipped_checks(operation) -> list:
    from schemathesis import checks

    names = operation.definition.raw.get("x-emulator-skip-checks") or {}
    return [getattr(checks, name) for name in names]


def _example(case, response) -> str:
    content = getattr(response, "content", b"") or b""
    if content[:2] == b"\x1f\x8b":
        body = f"<gzip, {len(content)} bytes>"
    else:
        body = " ".join(content[:400].decode("utf-8", "replace").split())[:160]
    url = getattr(response.request, "url", "") or case.formatted_path
    return f"{case.method.upper()} {url} -> {response.status_code} {body}".strip()


class CheckNames:
    """schemathesis' `after_validate` hook: which check raised each failure of the last validation."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def __call__(self, context, case, response, results) -> None:
        self.names = {id(r.failure): r.name for r in results if r.failure is not None}

    def label(self, failure) -> str:
        """The failure's title and its check, e.g. "Undocumented status code [status_code_conformance]"."""
        checks = getattr(type(failure), "checks", ()) or ()
        name = self.names.get(id(failure)) or "/".join(checks)
        return f"{failure.title} [{name}]" if name else failure.title


CHECK_NAMES = CheckNames()


def _record(row: Row, group, case, response) -> None:
    for failure in group.exceptions:
        name = CHECK_NAMES.label(failure)
        if name not in row.failures:
            message = str(failure.message).strip().splitlines()[0] if str(failure.message).strip() else ""
            path = getattr(failure, "instance_path", None)  # a schema violation: where in the body
            if path is not None:
                message = f"at /{'/'.join(map(str, path))}: {message}"
            row.failures[name] = f"{message} (example: {_example(case, response)})"


@dataclass
class Target:
    """Where a run sends its requests and how it waits for an asynchronous export."""

    base_url: str
    app: Any = None  # a WSGI app: in-process run
    wait: Callable[[float], Any] = time.sleep  # the in-process run moves the virtual clock instead
    today: Callable[[], date] = lambda: datetime.now(UTC).date()
    poll_timeout: float = 30.0  # seconds of (real or virtual) time a stateful poll waits for a ready export


def run(contract_path: str, target: Target | str, creds: Credentials | None = None, *, max_examples: int = 25,
        modes: tuple[str, ...] = MODES, stateful_examples: int = 8,
        operations: Collection[str] | None = None) -> list[Row]:
    """Run the contract's checks; one row per operation and mode, then the stateful rows. `operations`:
    only these labels (e.g. "GET /v2/Api/Time") in positive and negative mode."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.core.control import SkipTest

    from .csv_columns import register

    register()  # the csv_columns check, beside schemathesis' own
    target = Target(target) if isinstance(target, str) else target
    tally = Tally()
    schema = schemathesis.openapi.from_path(contract_path)
    schema.config.update(base_url=target.base_url)
    install_auth(schema, creds or {})
    if target.app is not None:
        schema.app = tally.wsgi(tally.decoded(target.app))  # every call, probes included, is counted
    _check_labels(schema, operations, contract_path)  # (operations carry schema.app: set it first)
    if target.app is None:
        transport: dict[str, Any] = tally.transport()
    else:
        transport = {"session": in_process_client(schema.app)}
    try:
        lookups = Lookups(schema.raw_schema, creds or {}, target.base_url, schema.app, transport)
        rows: list[Row] = [tally.setup] if tally.setup.requests else []
        hints = PositiveHints(lookups, target.today)
        schema.hooks.register_hook_with_name(hints, "map_case")
        schema.hooks.register_hook_with_name(without_framing_headers, "map_case")
        schema.hooks.register_hook_with_name(CHECK_NAMES, "after_validate")
        # No shrinking: failures are recorded, not raised, and an error ends the row at once.
        hypothesis_settings = settings(max_examples=max_examples, deadline=None, derandomize=True,
                                       database=None, phases=[Phase.explicit, Phase.generate],
                                       suppress_health_check=list(HealthCheck))
        probes = AuthProbes()
        all_operations = [result.ok() for result in schema.get_all_operations()]
        for operation in all_operations:
            if operations is not None and operation.label not in operations:
                continue
            for mode in modes:
                if mode == "stateful":
                    continue
                row = Row(operation.label, mode)
                rows.append(row)
                tally.row = row
                # The config's modes too: with the default (all), a positive strategy also draws negative
                # cases.
                schema.config.generation.update(modes=[mode])
                hints.active = mode == "positive"
                strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
                check = _checker(row, strategy, transport, target, probes, hypothesis_settings, given)
                try:
                    check()
                except (Unsatisfiable, SkipTest):
                    row.note = f"no {mode} data possible"
                except CredentialError:
                    raise
                except Exception as exc:  # noqa: BLE001  (a transport error: the server could not be reached...)
                    row.error = f"{type(exc).__name__}: {exc}"
        tally.row = None
        if "stateful" in modes:
            hints.active = True
            from .stateful import run_stateful

            rows += run_stateful(schema, tally, transport, target, stateful_examples, probes, hints)
        _mark_exercised(rows, {op.label: op.definition.raw for op in all_operations})
        return rows
    finally:
        tally.close()


def _check_labels(schema, operations: Collection[str] | None, contract_path: str) -> None:
    labels = [result.ok().label for result in schema.get_all_operations()]
    unknown = sorted(set(operations or []) - set(labels))
    if unknown:
        raise ValueError(f"no operation {', '.join(map(repr, unknown))} in {contract_path}; its operations: "
                         + ", ".join(labels))


class AuthProbes:
    """ignored_auth probes an operation (without, then with wrong credentials) after each 2xx answer; as in
    schemathesis' own runner, one confirmation per operation and run is enough, later 2xx skip the probes."""

    def __init__(self) -> None:
        self.confirmed: set[str] = set()

    def excluded(self, operation) -> list:
        from schemathesis.specs.openapi.checks import ignored_auth

        return [ignored_auth] if operation.label in self.confirmed else []

    def note(self, operation, response, failed: bool) -> None:
        if 200 <= response.status_code < 300 and not failed:
            self.confirmed.add(operation.label)


def in_process_client(app: Any):
    """A WSGI client without a cookie jar: werkzeug's cannot parse ExpertSender's `TIMEZONE` cookie, whose
    value holds unquoted spaces as the vendor sends it (and no check needs cookies)."""
    from werkzeug.test import Client

    return Client(app, use_cookies=False)


def validate(case, response, row: Row, transport: dict, probes: AuthProbes, **kwargs) -> None:
    """Run the checks on one answer; failures are recorded in the row, not raised (no shrinking)."""
    from schemathesis.core.failures import FailureGroup

    excluded = skipped_checks(case.operation) + probes.excluded(case.operation)
    CHECK_NAMES.names = {}
    try:
        case.validate_response(response, excluded_checks=excluded, transport_kwargs=transport or None,
                               **kwargs)
    except FailureGroup as group:
        _record(row, group, case, response)
        probes.note(case.operation, response, any("auth" in f.title.lower() for f in group.exceptions))
    else:
        probes.note(case.operation, response, False)


def _checker(row: Row, strategy, transport: dict, target: Target, probes: AuthProbes, hypothesis_settings,
             given) -> Callable:
    from .stateful import call_waiting

    @given(case=strategy)
    @hypothesis_settings
    def check(case):
        row.examples += 1
        validate(case, call_waiting(case, transport, target), row, transport, probes)

    return check


def _mark_exercised(rows: list[Row], raw: Mapping[str, Mapping]) -> None:
    """A positive row is exercised when its operation got a 2xx (or a declared status) in positive or
    stateful mode."""
    for row in rows:
        if row.mode != "positive" or row.error:
            continue
        declared = raw.get(row.operation, {}).get("x-emulator-expected-statuses") or {}
        allowed = {int(s) for s in declared.get("statuses", [])}
        answered = Counter()
        for other in rows:
            if other.operation == row.operation and other.mode in ("positive", "stateful"):
                answered.update(other.statuses)
        row.exercised = any(200 <= s < 300 or s in allowed for s in answered)
        if not row.exercised:
            row.note = "no 2xx answer in positive or stateful mode"
        elif declared and not any(200 <= s < 300 for s in answered):
            statuses = ", ".join(map(str, sorted(allowed)))
            row.note = f"answers {statuses} as declared: {declared.get('reason', '')}"


from .report import print_table, report_html, report_markdown, status_summary, write_report  # noqa: F401


def flag_credentials(contract: Mapping, headers: list[str], query: list[str]) -> dict[str, str]:
    """Credentials by security scheme from `--header 'Name: value'` and `--query name=value` flags."""
    schemes = (contract.get("components") or {}).get("securitySchemes") or {}
    given = [("header", *item.partition(":")[::2]) for item in headers]
    given += [("query", *item.partition("=")[::2]) for item in query]
    creds: dict[str, str] = {}
    for location, name, value in given:
        name, value = name.strip(), value.strip()
        matched = False
        for scheme_name, scheme in schemes.items():
            bearer = scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer"
            if bearer and location == "header" and name.lower() == "authorization":
                creds[scheme_name], matched = value.removeprefix("Bearer ").strip(), True
            elif (scheme.get("type"), scheme.get("in"), scheme.get("name")) == ("apiKey", location, name):
                creds[scheme_name], matched = value, True
        if not matched:
            known = sorted(f"{s.get('in', 'header')} {s.get('name', 'Authorization')}"
                           for s in schemes.values())
            raise ValueError(f"{location} {name!r} is no credential of the contract's security schemes "
                             f"({', '.join(known) or 'none'})")
    return creds
