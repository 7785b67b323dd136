"""The OpenAPI contracts in contracts/: loaded once, and used to check requests before a view runs.

A parameter's rules are written once, in the contract; `Operation.check(request)` coerces query, path
and header values by their schema type and validates them (and a JSON body) with jsonschema. The vendor
turns the returned issues into its own error format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from werkzeug.datastructures import Headers

_TRUE, _FALSE = ("true",), ("false",)


def contracts_dir() -> Path:
    return Path(str(resources.files("emulator").joinpath("contracts")))


# libyaml's safe loader builds the same documents as PyYAML's pure-Python one, several times faster: it
# keeps start-up short (docs/performance.md).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """A YAML document, as `yaml.safe_load` reads it."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader: plain data only


MAX_JSON_DEPTH = 32  # nesting no request body of the contracts comes near; deeper bodies are refused


def _no_constant(name: str) -> Any:
    raise ValueError(f"is not valid JSON ({name} is not a JSON number)")


def parse_json(raw: bytes | str) -> Any:
    """A request body's JSON as RFC 8259 defines it: NaN and Infinity are refused, and so is nesting deeper
    than MAX_JSON_DEPTH (Python's parser would otherwise run out of stack on a body nested 1,000 deep).
    Raises ValueError for anything else than such a document."""
    try:
        doc = json.loads(raw, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise ValueError("is not valid JSON (not UTF-8)") from None
    level, depth = [doc], 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"is nested deeper than {MAX_JSON_DEPTH} levels")
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
    return doc


@cache
def load(filename: str) -> dict[str, Any]:
    return parse_yaml((contracts_dir() / filename).read_text())


def _pointer(doc: Any, pointer: str) -> Any:
    target = doc
    for part in filter(None, pointer.split("/")):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _resolve(node: Any, doc: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline $refs: local ones, and ones into a sibling file such as ../scenarios/scenario.schema.json."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                raise ValueError(f"recursive $ref {ref}")
            filename, _, pointer = ref.partition("#")
            base = doc
            if filename:
                base = parse_yaml((contracts_dir() / filename).read_text())
            merged = dict(_resolve(_pointer(base, pointer), base, seen + (ref,)))
            merged.update({k: _resolve(v, doc, seen) for k, v in node.items() if k != "$ref"})
            return merged
        return {k: _resolve(v, doc, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, doc, seen) for v in node]
    return node


@dataclass(frozen=True)
class Issue:
    """One problem with a request: where (query, path, header, body), which field, and the rule broken."""

    location: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class Operation:
    def __init__(self, method: str, path: str, spec: dict[str, Any], path_params: list[dict[str, Any]]):
        self.method = method.upper()
        self.path = path
        self.spec = spec
        params = {(p["in"], p["name"]): p for p in path_params}
        params.update({(p["in"], p["name"]): p for p in spec.get("parameters", [])})
        self.parameters = list(params.values())
        body = (spec.get("requestBody") or {}).get("content", {})
        json_media = next((v for k, v in body.items() if "json" in k), None)
        self.body_schema = json_media.get("schema") if json_media else None
        self.body_required = bool((spec.get("requestBody") or {}).get("required"))

    def check(self, query: Mapping[str, str], path_values: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None, body: bytes | None = None,
              case_insensitive_query: bool = False) -> tuple[dict[str, Any], list[Issue]]:
        """Coerce and validate; return (values by parameter name, issues)."""
        sources = {"query": query, "path": path_values or {}, "header": headers if headers is not None else {}}
        if case_insensitive_query:
            sources["query"] = {k.lower(): v for k, v in query.items()}
        values: dict[str, Any] = {}
        issues: list[Issue] = []
        for param in self.parameters:
            where, name = param["in"], param["name"]
            if where not in sources:
                continue
            lookup = name.lower() if (where == "header" or (where == "query" and case_insensitive_query)) else name
            source = sources[where]
            raw = _get(source, lookup, where == "header")
            if raw is None:
                if param.get("required"):
                    issues.append(Issue(where, name, "is required"))
                elif "default" in param.get("schema", {}):
                    values[name] = param["schema"]["default"]
                continue
            schema = param.get("schema", {})
            try:
                value = coerce(raw, schema)
            except ValueError as exc:
                issues.append(Issue(where, name, str(exc)))
                continue
            problem = first_error(value, schema)
            if problem:
                issues.append(Issue(where, name, problem))
                continue
            values[name] = value
        if self.body_schema is not None and body is not None:
            if not body.strip():
                if self.body_required:
                    issues.append(Issue("body", "(body)", "a JSON request body is required"))
            else:
                try:
                    doc = parse_json(body)
                except ValueError as exc:
                    issues.append(Issue("body", "(body)", str(exc)))
                else:
                    issues.extend(body_errors(doc, self.body_schema))
                    values["__body__"] = doc
        return values, issues


def _get(source: Mapping[str, str], name: str, case_insensitive: bool) -> str | None:
    if name in source:
        return source[name]
    # A request's headers already ignore case: an absent optional header (the poll URL's Accept-Encoding)
    # need not be looked for again through every header.
    if case_insensitive and not isinstance(source, Headers):
        for key, value in source.items():
            if key.lower() == name.lower():
                return value
    return None


def coerce(raw: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"must be an integer, got {raw!r}") from None
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
    if kind == "boolean":
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"must be true or false, got {raw!r}")
    if kind == "array":
        items = schema.get("items", {})
        return [coerce(part, items) for part in raw.split(",")] if raw != "" else []
    return raw


_FORMATS = jsonschema.FormatChecker()


_VALIDATORS: dict[int, tuple[dict[str, Any], jsonschema.Draft202012Validator]] = {}
_VERDICTS: dict[tuple[int, type, Any], str | None] = {}


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """One validator per schema object (building one costs 9 us, using it 2.5 us; a request checks several).
    The entry holds the schema, so its id cannot be reused while cached."""
    held = _VALIDATORS.get(id(schema))
    if held is None or held[0] is not schema:
        if len(_VALIDATORS) > 4096:
            _VALIDATORS.clear()
            _VERDICTS.clear()  # a verdict is kept only while its schema is held here
        held = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft202012Validator(schema, format_checker=_FORMATS))
    return held[1]


def first_error(value: Any, schema: dict[str, Any]) -> str | None:
    """The first rule of `schema` that a parameter's value breaks, or None. Parameters are scalars and
    clients repeat them (a polled report id, a paged day): each verdict is kept, for schemas held in
    _VALIDATORS (a report id's pattern check: 20 us by jsonschema)."""
    key = (id(schema), type(value), value) if isinstance(value, (str, int, float, bool)) else None
    if key is not None and key in _VERDICTS:
        return _VERDICTS[key]
    errors = list(_validator(schema).iter_errors(value))
    verdict = _message(min(errors, key=lambda e: len(list(e.absolute_path)))) if errors else None
    if key is not None:
        if len(_VERDICTS) > 16384:
            _VERDICTS.clear()
        _VERDICTS[key] = verdict
    return verdict


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "enum":
        return f"must be one of {', '.join(map(str, err.validator_value))}, got {err.instance!r}"
    if err.validator == "pattern":
        return f"must match {err.validator_value}, got {err.instance!r}"
    if err.validator == "format":
        return f"must be a {err.validator_value}, got {err.instance!r}"
    if err.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"must be {_BOUND[err.validator]} {err.validator_value}, got {err.instance!r}"
    if err.validator == "required":
        return err.message
    if err.validator in ("maxItems", "minItems") and isinstance(err.instance, list):
        bound = "at most" if err.validator == "maxItems" else "at least"
        return f"must have {bound} {err.validator_value} items, got {len(err.instance)}"
    return err.message


_BOUND = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def body_errors(doc: Any, schema: dict[str, Any]) -> list[Issue]:
    validator = _validator(schema)
    issues = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else "?"
            path = f"{path}.{missing}" if path else missing
            issues.append(Issue("body", path, "is required"))
        elif err.validator == "additionalProperties" and "'" in err.message:
            issues.append(Issue("body", path or "(body)", err.message))
        else:
            issues.append(Issue("body", path or "(body)", _message(err)))
    return issues


class Contract:
    """One OpenAPI file, its $refs inlined, its operations by (METHOD, path template)."""

    def __init__(self, filename: str):
        raw = load(filename)
        self.filename = filename
        self.doc = _resolve(raw, raw)
        self.operations: dict[tuple[str, str], Operation] = {}
        for path, item in self.doc.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method, spec in item.items():
                if method in ("get", "post", "put", "patch", "delete", "head", "options"):
                    self.operations[(method.upper(), path)] = Operation(method, path, spec, shared)

    def op(self, method: str, path: str) -> Operation:
        return self.operations[(method.upper(), path)]

    @property
    def meta(self) -> dict[str, Any]:
        return self.doc.get("x-emulator", {})


@cache
def contract(filename: str) -> Contract:
    return Contract(filename)


def all_contract_files() -> list[str]:
    return sorted(p.name for p in contracts_dir().glob("*.openapi.yaml"))
