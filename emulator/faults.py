"""Scenario engine: which request gets which forced answer.

Rules come from named YAML files (the package's scenarios/ and an optional user directory), from the
control API at run time, and for one request from the `X-Emulator-Scenario` header. A rule matches on
vendor, method, path glob and query, then on its call counter (n-th, every k-th, after, times), a seeded
probability, a rate window and a virtual time window; its action forces a status with the vendor's error
body, extra headers, a delay, a dropped or truncated connection, or an export outcome.

Counters live in the store, so a rule counts calls across all workers.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from flask import has_request_context, request

from .clock import Clock, parse_rfc3339
from .contracts import parse_yaml
from .exports import FAIL, NEVER_READY, OK, TOO_LARGE, ExportModifiers
from .sessions import current
from .store import Store
from .world.hashing import h, text_id

SCENARIO_HEADER = "X-Emulator-Scenario"
_SCENARIO_ENVIRON = "HTTP_X_EMULATOR_SCENARIO"  # the header as a WSGI environ holds it
_ACTIVE_KEY = "scenario"
START_KEY = "scenario_at_start"  # the scenario names the server was last started with
_EXPORT_OUTCOMES = {"never_ready": NEVER_READY, "fail": FAIL, "too_large": TOO_LARGE}


def header_scenarios(environ: dict[str, Any]) -> tuple[str, ...]:
    """The scenario names a request's X-Emulator-Scenario header lists (comma-separated), from its WSGI
    environ."""
    value = environ.get(_SCENARIO_ENVIRON)
    return tuple(s.strip() for s in value.split(",") if s.strip()) if value else ()


def _request_scenarios() -> tuple[str, ...]:
    """The scenario names of the current request's header (none outside a request); the vendor app has
    already refused unknown names with 400."""
    return header_scenarios(request.environ) if has_request_context() else ()


class ScenarioError(ValueError):
    """A scenario file or rule set that does not pass the schema; the message names file, rule, problem."""


@lru_cache(maxsize=1)
def scenario_schema() -> dict[str, Any]:
    text = resources.files("emulator").joinpath("scenarios/scenario.schema.json").read_text()
    return json.loads(text)


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(scenario_schema(), format_checker=jsonschema.FormatChecker())


def validate_scenario(doc: Any, origin: str) -> dict[str, Any]:
    """Check a scenario document; raise ScenarioError naming the origin, the rule and the problem."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = list(err.absolute_path)
        where = "the scenario"
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = doc.get("rules") or []
            name = rules[path[1]].get("name") if isinstance(rules[path[1]], dict) else None
            where = f"rule #{path[1] + 1}" + (f" ({name!r})" if name else "")
            path = path[2:]
        field_path = ".".join(str(p) for p in path) or "(top level)"
        raise ScenarioError(f"{origin}: {where}: {field_path}: {err.message}")
    for rule in doc.get("rules") or []:
        for bound in ("from", "until"):
            value = (rule.get("match") or {}).get(bound)
            if value is not None:
                try:
                    parse_rfc3339(value)
                except ValueError as exc:
                    raise ScenarioError(f"{origin}: rule {rule['name']!r}: match.{bound}: {exc}") from None
    names = [r["name"] for r in doc.get("rules") or []]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ScenarioError(f"{origin}: rule names must be unique, repeated: {', '.join(sorted(dupes))}")
    return doc


def load_scenario_file(path: Path) -> dict[str, Any]:
    try:
        doc = parse_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    doc = validate_scenario(doc, str(path))
    if doc["name"] != path.stem:
        raise ScenarioError(f"{path}: name {doc['name']!r} must equal the file name {path.stem!r}")
    return doc


def builtin_scenario_dir() -> Path:
    return Path(str(resources.files("emulator").joinpath("scenarios")))


def load_library(extra_dir: str | None = None) -> dict[str, dict[str, Any]]:
    """All named scenarios: the shipped ones, then a user directory's (which may override by name)."""
    library: dict[str, dict[str, Any]] = {}
    dirs = [builtin_scenario_dir()] + ([Path(extra_dir)] if extra_dir else [])
    for directory in dirs:
        if not directory.is_dir():
            raise ScenarioError(f"{directory}: scenario directory not found")
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            doc = load_scenario_file(path)
            library[doc["name"]] = doc
    return library


@dataclass
class Decision:
    """What the fault rules decided for one request."""

    rule: str | None = None  # the rule that forced the answer (journal)
    status: int | None = None
    message: str | None = None
    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_ms: int = 0
    drop: bool = False
    truncate_after_bytes: int | None = None
    export: ExportModifiers = field(default_factory=ExportModifiers)
    fired: list[str] = field(default_factory=list)

    @property
    def forces_response(self) -> bool:
        return self.status is not None or self.drop


@dataclass(frozen=True)
class RequestInfo:
    vendor: str
    method: str
    path: str
    query: Mapping[str, str]  # the first value of each parameter
    header_scenarios: tuple[str, ...] = ()


class Faults:
    def __init__(self, store: Store, clock: Clock, seed: int, library: dict[str, dict[str, Any]]):
        self._store = store
        self._clock = clock
        self._seed = seed
        self.library = library
        # The rules of the last active state seen: the store hands out the same state object until it
        # changes (a value got is never changed in place), so a request need not list them again.
        self._rules_of: tuple[Any, tuple[tuple[str, dict[str, Any]], ...]] = (None, ())

    # --- the active scenario -----------------------------------------------------------------
    def active(self) -> dict[str, Any]:
        return self._store.get(_ACTIVE_KEY) or {"names": ["default"], "rules": [], "options": {}}

    def initial_state(self, names: list[str]) -> dict[str, Any]:
        """The active-scenario state of these named scenarios (KeyError for an unknown name)."""
        unknown = [n for n in names if n not in self.library]
        if unknown:
            raise KeyError(unknown)
        return {"names": names or ["default"], "rules": [], "options": {}}

    def activate(self, names: Iterable[str] = (), rules: list[dict[str, Any]] | None = None,
                 options: dict[str, Any] | None = None) -> dict[str, Any]:
        names = list(names)
        unknown = [n for n in names if n not in self.library]
        if unknown:
            raise KeyError(unknown)
        if rules or options:
            validate_scenario({"name": "runtime", "description": "rules set through the control API",
                               "rules": rules or [], "options": options or {}}, "control API")
        state = {"names": names or (["default"] if not rules else []), "rules": rules or [], "options": options or {}}
        self._store.put(_ACTIVE_KEY, state)
        self._store.clear_counters("fault:")
        return state

    def start(self, names: Iterable[str]) -> None:
        """At server start: activate the scenarios named at start, unless the state directory was last started
        with these same names; then the scenario in force when it stopped (perhaps set at run time through the
        control API) stays. Naming other scenarios at start replaces it."""
        names = list(names)
        if self._store.get(START_KEY) == names and self._store.get(_ACTIVE_KEY) is not None:
            return
        self.activate(names)
        self._store.put(START_KEY, names)

    def option(self, name: str, default: Any = None) -> Any:
        """A vendor option from the active scenarios (later scenarios and run-time options win), then from
        the scenarios the current request names in its X-Emulator-Scenario header: a scenario named for one
        request acts as if it were set globally, for that request only."""
        state = self.active()
        value = default
        for scenario in state["names"]:
            value = self.library.get(scenario, {}).get("options", {}).get(name, value)
        value = state.get("options", {}).get(name, value)
        for scenario in _request_scenarios():
            value = self.library.get(scenario, {}).get("options", {}).get(name, value)
        return value

    def active_rules(self) -> list[tuple[str, dict[str, Any]]]:
        state = self.active()
        seen, rules = self._rules_of
        if state is seen:
            return list(rules)
        out = []
        for name in state["names"]:
            out.extend((f"{name}:{r['name']}", r) for r in self.library.get(name, {}).get("rules") or [])
        out.extend((f"api:{r['name']}", r) for r in state["rules"])
        self._rules_of = (state, tuple(out))
        return out

    # --- evaluation --------------------------------------------------------------------------
    def rules_for(self, header_scenarios: Iterable[str] = ()) -> list[tuple[str, dict[str, Any]]]:
        """The rules that apply to a request: the active ones, then those of the scenarios its header names
        (KeyError for an unknown name)."""
        rules = self.active_rules()
        for name in header_scenarios:
            if name not in self.library:
                raise KeyError(name)
            rules.extend((f"header:{name}:{r['name']}", r) for r in self.library[name].get("rules") or [])
        return rules

    def decide(self, req: RequestInfo, rules: list[tuple[str, dict[str, Any]]] | None = None) -> Decision:
        """What `rules` (default: rules_for the request) decide for the request."""
        if rules is None:
            rules = self.rules_for(req.header_scenarios)
        decision = Decision()
        if not rules:
            return decision
        now = self._clock.now()
        for key, rule in rules:
            if self._fires(key, rule.get("match") or {}, req, now):
                self._apply(decision, key, rule["action"])
        return decision

    def _fires(self, key: str, match: dict[str, Any], req: RequestInfo, now: float) -> bool:
        if match.get("vendor") not in (None, req.vendor):
            return False
        methods = match.get("method")
        if methods is not None:
            methods = [methods] if isinstance(methods, str) else methods
            if req.method not in methods:
                return False
        if match.get("path") is not None and not fnmatch.fnmatchcase(req.path, match["path"]):
            return False
        for qname, qvalue in (match.get("query") or {}).items():
            if str(req.query.get(qname, "")).lower() != qvalue.lower():
                return False
        if match.get("from") and now < parse_rfc3339(match["from"]).timestamp():
            return False
        if match.get("until") and now >= parse_rfc3339(match["until"]).timestamp():
            return False
        counted = ("nth", "every", "after", "times", "probability")
        count = self._store.incr(f"fault:calls:{key}") if any(k in match for k in counted) else 0
        if "nth" in match and count != match["nth"]:
            return False
        if "every" in match and count % match["every"] != 0:
            return False
        if "after" in match and count <= match["after"]:
            return False
        if "probability" in match:
            seed = current().seed
            roll = h(self._seed if seed is None else seed, text_id(key), count) / 2**64
            if roll >= match["probability"]:
                return False
        if "rate" in match:
            window = int(now // match["rate"]["per"])
            if self._store.incr(f"fault:rate:{key}:{window}") <= match["rate"]["limit"]:
                return False
        return not ("times" in match and self._store.incr(f"fault:fired:{key}") > match["times"])

    @staticmethod
    def _apply(decision: Decision, key: str, action: dict[str, Any]) -> None:
        decision.fired.append(key)
        decision.delay_ms += action.get("delay_ms", 0)
        export = ExportModifiers(
            outcome=_EXPORT_OUTCOMES.get(action.get("export"), OK),
            extra_delay=float(action.get("export_delay", 0.0)),
            expires_after=action.get("export_expires_after"),
        )
        decision.export = decision.export.merge(export)
        if "truncate_after_bytes" in action and decision.truncate_after_bytes is None:
            decision.truncate_after_bytes = action["truncate_after_bytes"]
            decision.rule = decision.rule or key
        if decision.forces_response:
            return  # the first rule that forces an answer wins
        if "status" in action or action.get("drop"):
            decision.rule = key
            decision.status = action.get("status")
            decision.drop = bool(action.get("drop"))
            decision.message = action.get("message")
            decision.body = action.get("body")
            decision.content_type = action.get("content_type")
            decision.headers = dict(action.get("headers") or {})
        elif action.get("headers"):
            decision.headers.update(action["headers"])
