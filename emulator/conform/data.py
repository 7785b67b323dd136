"""Valid data for positive cases: recent dates, ids from the vendor's own lookups, no account-bound fields.

Schemathesis draws schema-valid values, but the server also applies rules no schema says: a window within the
retention, ids that exist on the account. A `map_case` hook registered on the schema rewrites positive cases
(stateful ones included) so that most of them can be accepted; negative cases are left alone. What it reads
from the contract:

- `x-emulator-values-from: {path, pointer | xpath}` on a parameter: its values come from a lookup the run
  makes once at the start (JSON pointer with `*` for every array item or a number for one, or an XPath into an
  XML answer);
  `{name}` in the lookup path is filled with the first value found for the parameter of that name.
- `x-emulator-positive-omit: [names]` on an operation: query parameters, headers or body fields left out of
  positive cases, because their valid values depend on account data the run does not look up.
- `x-emulator-positive-max: {name: n}`: a ceiling below the schema's maximum that the server applies by
  default.
- `x-emulator-positive-alone: {name: [values]}`: values of a list that are only valid as its single item.
- Window parameters by name (start / end dates and times): set to a recent past window, in the same format.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

START = {"date", "startdate", "start_date", "startDate", "start_at"}
END = {"enddate", "end_date", "endDate", "end_at"}
TIMES = {"start_time": " 00:00:00", "end_time": " 23:00:00"}


def resolve(raw: Mapping, node: Any) -> Any:
    """`node` with its local `$ref`s followed."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        node = _walk(raw, node["$ref"])
    return node


def _walk(raw: Mapping, ref: str) -> Any:
    node: Any = raw
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def parameters(raw_schema: Mapping, path: str, method: str) -> Iterator[dict]:
    """The resolved parameters of one operation, path-level ones included."""
    item = raw_schema.get("paths", {}).get(path, {})
    for node in [*(item.get("parameters") or []), *(item.get(method.lower(), {}).get("parameters") or [])]:
        yield resolve(raw_schema, node)


def window_day(value: object, today: date, span: int = 20) -> date:
    """A recent past day picked from a generated value (1..span days before today), the same for the same
    value."""
    return today - timedelta(days=1 + zlib.crc32(repr(value).encode()) % span)


def _pointer_values(doc: Any, pointer: str) -> list:
    nodes = [doc]
    for part in pointer.strip("/").split("/"):
        nxt = []
        for node in nodes:
            if part == "*" and isinstance(node, list):
                nxt.extend(node)
            elif part.isdigit() and isinstance(node, list):
                nxt.extend(node[int(part):int(part) + 1])
            elif isinstance(node, Mapping) and part in node:
                nxt.append(node[part])
        nodes = nxt
    return [n for n in nodes if isinstance(n, str | int) and not isinstance(n, bool)]


class Lookups:
    """The values of every `x-emulator-values-from` parameter, fetched once through the run's credentials."""

    def __init__(self, raw_schema: Mapping, creds: Mapping, base_url: str, app: Any = None,
                 transport: Mapping | None = None):
        from . import credential_parts

        self._raw, self._base, self._app = raw_schema, base_url.rstrip("/"), app
        self._session, self._hooks = (transport or {}).get("session"), (transport or {}).get("hooks")
        self._auth = credential_parts({}, raw_schema, creds) if creds else {"headers": {}, "query": {}}
        self.values: dict[str, list] = {}  # parameter name -> values
        self.errors: list[str] = []
        # Lookups without a {name} in their path first: the others are filled from them.
        for _, p in sorted(self._specs(), key=lambda item: "{" in item[1]["x-emulator-values-from"]["path"]):
            if self.key(p) not in self.values:
                self.values[self.key(p)] = self._fetch(p["x-emulator-values-from"])

    @staticmethod
    def key(parameter: Mapping) -> str:
        return json.dumps(parameter["x-emulator-values-from"], sort_keys=True)

    def _fetch(self, spec: Mapping) -> list:
        path = spec["path"]
        for name in re.findall(r"\{([^}]+)\}", path):
            known = self._first(name)
            if known is None:
                return []
            path = path.replace("{" + name + "}", str(known))
        try:
            status, body = self._get(path)
        except Exception as exc:  # noqa: BLE001  (the lookup is a convenience: positive cases fall back)
            self.errors.append(f"GET {path}: {type(exc).__name__}: {exc}")
            return []
        if status != 200:
            self.errors.append(f"GET {path}: {status}")
            return []
        if "xpath" in spec:
            root = ElementTree.fromstring(body)
            return [e.text for e in root.findall(spec["xpath"]) if e.text]
        return _pointer_values(json.loads(body), spec["pointer"])

    def _first(self, name: str):
        for p_name, p in self._specs():
            if p_name == name and self.values.get(self.key(p)):
                return self.values[self.key(p)][0]
        return None

    def _specs(self) -> Iterator[tuple[str, Mapping]]:
        for path, item in self._raw.get("paths", {}).items():
            for method in item:
                if method in ("get", "post", "put", "patch", "delete"):
                    for p in parameters(self._raw, path, method):
                        if isinstance(p, Mapping) and p.get("x-emulator-values-from"):
                            yield p["name"], p

    def _get(self, path: str) -> tuple[int, bytes]:
        headers, query = self._auth["headers"], self._auth["query"]
        if self._app is not None:
            from . import in_process_client

            response = in_process_client(self._app).get(urlsplit(self._base).path + path, headers=headers,
                                                        query_string=query)
            return response.status_code, response.get_data()
        import requests

        response = (self._session or requests).get(self._base + path, headers=headers, params=query,
                                                   timeout=30, hooks=self._hooks)
        return response.status_code, response.content

    def pick(self, parameter: Mapping, drawn: object) -> object:
        values = self.values.get(self.key(parameter)) or []
        if not values:
            return drawn
        value = values[zlib.crc32(repr(drawn).encode()) % len(values)]
        integer = resolve(self._raw, parameter.get("schema", {})).get("type") == "integer"
        return int(value) if integer else value


def _window(container: MutableMapping, today: date) -> None:
    """Recent start and end values for the window parameters present, in the format they were drawn in: a day
    (or a few) for dates, one hour for date-times (a small export: the stateful flows download its file)."""
    start_key = next((k for k in container if k in START), None)
    end_key = next((k for k in container if k in END), None)
    if start_key is None and end_key is None and not any(k in container for k in TIMES):
        return
    hour = zlib.crc32(repr(container.get(start_key or end_key or "")).encode()) % 24
    start = window_day(container[start_key], today) if start_key else None
    if start_key:
        container[start_key] = _format(start, container[start_key], hour)
    if end_key:
        drawn = container[end_key]
        if start is None:
            container[end_key] = _format(window_day(drawn, today), drawn, hour)
        elif _is_datetime(drawn):
            container[end_key] = _format(start, drawn, hour + 1)
        else:
            spread = zlib.crc32(repr(drawn).encode()) % 3
            last = min(start + timedelta(days=spread), today - timedelta(days=1))
            container[end_key] = _format(last, drawn, 0)
    day = start or window_day(None, today)
    for key, clock in TIMES.items():
        if key in container:
            last = str(container[end_key])[:10] if end_key else day.isoformat()
            container[key] = (day.isoformat() if key == "start_time" else last) + clock


def _without_alone(value: object, alone: set) -> object:
    """A list (or comma list) of several items without the values that are only valid alone."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) < 2 or not alone & set(items):
        return value
    kept = [item for item in items if item not in alone] or [items[0]]
    return ",".join(kept) if isinstance(value, str) else kept


def _is_datetime(value: object) -> bool:
    return isinstance(value, str) and len(value) > 10


def _format(day: date, drawn: object, hour: int) -> str:
    """`day` as a date, or as the date-time at `hour` (24 is the next midnight) when a date-time was drawn."""
    if not _is_datetime(drawn):
        return day.isoformat()
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class PositiveHints:
    """The `map_case` hook: positive cases get valid windows, looked-up ids, no account-bound fields.

    `active` is set by the run for its positive and stateful phases (a case's own metadata is no guide: a
    form-style array parameter, serialized to its string, makes schemathesis mark a positive case
    negative)."""

    def __init__(self, lookups: Lookups, today: Callable[[], date]):
        self.lookups, self.today, self.active = lookups, today, False

    def __call__(self, context, case):
        if not self.active:
            return case
        operation = case.operation
        raw = operation.definition.raw
        omit = raw.get("x-emulator-positive-omit") or []
        ceilings = raw.get("x-emulator-positive-max") or {}
        alone = raw.get("x-emulator-positive-alone") or {}
        if isinstance(case.headers, MutableMapping):
            for name in omit:
                case.headers.pop(name, None)
        for container in (c for c in (case.query, case.body) if isinstance(c, MutableMapping)):
            for name in omit:
                container.pop(name, None)
            for name, values in alone.items():
                if name in container:
                    container[name] = _without_alone(container[name], set(values))
            for name, ceiling in ceilings.items():
                if isinstance(container.get(name), int) and container[name] > ceiling:
                    container[name] = 1 + container[name] % ceiling
            _window(container, self.today())
        for parameter in parameters(operation.schema.raw_schema, operation.path, operation.method):
            if isinstance(parameter, Mapping) and parameter.get("x-emulator-values-from"):
                container = case.path_parameters if parameter.get("in") == "path" else case.query
                if isinstance(container, MutableMapping) and parameter["name"] in container:
                    container[parameter["name"]] = self.lookups.pick(parameter, container[parameter["name"]])
        return case
