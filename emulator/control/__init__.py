"""The control API under /_emulator/: health, reset, clock, scenario, journal, jobs (JSON), and the
dashboard page at /_emulator/ui with its two assets (static/).

Open on loopback; when the server listens beyond loopback every call but `GET health` needs the token
from EMULATOR_CONTROL_TOKEN (header `X-Emulator-Token` or `Authorization: Bearer <token>`). A browser
cannot set a header when it opens a page, so the dashboard and its assets (only they) also take `?token=`.

Closed to other web sites: a request whose `Origin` is not this server is refused (a page elsewhere cannot
reset a developer's sandbox), and on loopback a request must name a loopback host (`Host: 127.0.0.1`,
`localhost`, `[::1]`) unless it carries the token (a DNS rebinding page names its own host).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from .. import __version__, parallel, sessions
from ..clock import format_rfc3339, parse_rfc3339
from ..contracts import contract, load, parse_json
from ..core import Core
from ..faults import ScenarioError

bp = Blueprint("control", __name__, url_prefix="/_emulator")
CONTRACT = contract("control.openapi.yaml")
# The dashboard page and its assets (ui.py): the only endpoints that also take the token as `?token=`.
_UI_ENDPOINTS = frozenset({"control.ui", "control.ui_asset"})


def core() -> Core:
    return current_app.config["EMULATOR_CORE"]


def problem(status: int, message: str, **extra: Any) -> Response:
    return Response(json.dumps({"status": status, "error": message, **extra}), status=status,
                    content_type="application/json")


def ok(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def loopback_host(host: str) -> bool:
    """Whether a Host header names this machine: localhost (or a name under .localhost, RFC 6761), or a
    loopback address such as 127.0.0.1 or [::1], with or without a port."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.split(":")[0]
    if name in ("localhost", "localhost.") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _foreign_origin() -> str | None:
    """The request's Origin when it is another site than this server (browsers send Origin on every
    cross-site request but simple GETs), else None."""
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    parts = urlsplit(origin)
    if parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower():
        return None
    return origin


def _token_given() -> str:
    given = request.headers.get("X-Emulator-Token") or ""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        given = given or auth[7:].strip()
    if request.endpoint in _UI_ENDPOINTS:
        given = given or request.args.get("token", "")
    return given


@bp.before_request
def _guard() -> Response | None:
    settings = core().settings
    origin = _foreign_origin()
    if origin is not None:
        return problem(403, f"Cross-site requests to the control API are refused (Origin {origin!r} is not this "
                            "server).")
    if request.endpoint == "control.health" and request.method == "GET":
        return None
    token = settings.control_token
    given = _token_given()
    valid = bool(token) and hmac.compare_digest(given.encode(), token.encode())
    if settings.loopback_only:
        if valid or loopback_host(request.host):
            return None
        return problem(403, f"The control API answers requests to a loopback host only (127.0.0.1, localhost, "
                            f"[::1]), not {request.host!r}, unless they carry the control token.")
    if not token:
        return problem(403, "The control API is disabled: the server listens beyond loopback and "
                            "EMULATOR_CONTROL_TOKEN is not set.")
    if not valid:
        if request.endpoint in _UI_ENDPOINTS:
            return problem(401, "A valid control token is required: open the dashboard as "
                                "/_emulator/ui?token=<EMULATOR_CONTROL_TOKEN>.")
        return problem(401, "A valid control token is required (header X-Emulator-Token).")
    return None


def _json_body() -> tuple[dict[str, Any] | None, Response | None]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}, None
    try:
        body = parse_json(raw)
    except ValueError as exc:
        return None, problem(400, f"The request body {exc}.")
    if not isinstance(body, dict):
        return None, problem(400, "The request body must be a JSON object.")
    return body, None


@bp.get("/")
def index() -> Response:
    """The control API's index (the control base URL printed at start): its operations, from its contract."""
    base = request.url_root.rstrip("/")  # with a session's prefix
    operations = [{"method": method.upper(), "path": path, "url": base + path, "summary": spec.get("summary", "")}
                  for path, item in load("control.openapi.yaml")["paths"].items()
                  for method, spec in item.items() if method in ("get", "post", "put", "delete")]
    return ok({"name": "email-events-emulator control API", "version": __version__, "operations": operations})


@bp.get("/health")
def health() -> Response:
    c = core()
    s = c.settings
    return ok({
        "status": "ok", "version": __version__, "seed": s.seed, "scale": s.scale, "worker_pid": os.getpid(),
        "uptime_seconds": round(c.clock._real_time() - c.started_at, 3),
        "now": format_rfc3339(c.clock.now()), "scenario": c.faults.active()["names"],
        "export_processes": s.render_processes, **parallel.stats(),
    })


@bp.post("/reset")
def reset() -> Response:
    core().reset()
    return ok({"status": "reset", "now": format_rfc3339(core().clock.now())})


def _clock_state() -> dict[str, Any]:
    clock = core().clock
    now = clock.now()
    return {"now": format_rfc3339(now), "epoch_ms": int(now * 1000), "offset_seconds": round(clock.offset(), 3)}


@bp.route("/clock", methods=["GET", "POST"])
def clock() -> Response:
    if request.method == "GET":
        return ok(_clock_state())
    body, error = _json_body()
    if error:
        return error
    if set(body) not in ({"advance"}, {"set"}):
        return problem(400, "Invalid clock change: give exactly one of 'advance' (seconds >= 0) or 'set' (RFC 3339).")
    if "advance" in body and (isinstance(body["advance"], bool) or not isinstance(body["advance"], (int, float))):
        return problem(400, "Invalid clock change: advance: must be a number of seconds >= 0.")
    if "set" in body and not isinstance(body["set"], str):
        return problem(400, "Invalid clock change: set: must be an RFC 3339 date-time string.")
    issues = CONTRACT.op("POST", "/_emulator/clock").check({}, body=json.dumps(body).encode())[1]
    if issues:
        return problem(400, "Invalid clock change: advance must be 0 to 3153600000 seconds, set an RFC 3339 "
                            "date-time with offset.")
    try:
        if "advance" in body:
            core().clock.advance(float(body["advance"]))
        else:
            core().clock.set(parse_rfc3339(body["set"]))
    except (ValueError, OverflowError, OSError) as exc:
        return problem(400, f"Invalid clock change: {exc}")
    return ok(_clock_state())


def _scenario_state() -> dict[str, Any]:
    faults = core().faults
    state = faults.active()
    rules = [{"id": key, **rule} for key, rule in faults.active_rules()]
    return {"names": state["names"], "rules": rules, "options": state.get("options", {}),
            "available": sorted(faults.library)}


@bp.route("/scenario", methods=["GET", "PUT", "DELETE"])
def scenario() -> Response:
    faults = core().faults
    if request.method == "GET":
        return ok(_scenario_state())
    if request.method == "DELETE":
        faults.activate(["default"])
        return ok(_scenario_state())
    body, error = _json_body()
    if error:
        return error
    issues = CONTRACT.op("PUT", "/_emulator/scenario").check({}, body=json.dumps(body).encode())[1]
    if issues:
        return problem(400, "Invalid scenario: " + "; ".join(map(str, issues)), known=sorted(faults.library))
    names = body.get("names") or []
    if not isinstance(names, list) or not isinstance(body.get("name", ""), str):
        return problem(400, "'name' must be a string and 'names' a list of strings.")
    names = ([body["name"]] if body.get("name") else []) + names
    if not all(isinstance(n, str) for n in names):
        return problem(400, "'names' must be a list of strings.")
    rules = body.get("rules")
    if rules is not None and not isinstance(rules, list):
        return problem(400, "'rules' must be a list of rules.")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        return problem(400, "'options' must be an object.")
    try:
        faults.activate(names, rules, options)
    except KeyError as exc:
        unknown = exc.args[0]
        return problem(400, f"Unknown scenario {', '.join(map(repr, unknown))}.", known=sorted(faults.library))
    except ScenarioError as exc:
        return problem(400, str(exc))
    return ok(_scenario_state())


@bp.get("/scenarios")
def scenarios() -> Response:
    library = core().faults.library
    return ok({"items": [{"name": n, "description": d["description"], "rules": len(d.get("rules") or [])}
                         for n, d in sorted(library.items())]})


_JOURNAL_LIMIT_MAX = 10_000


@bp.route("/journal", methods=["GET", "DELETE"])
def journal() -> Response:
    store = core().store
    if request.method == "DELETE":
        store.clear_journal()
        return ok({"status": "cleared"})
    values, issues = CONTRACT.op("GET", "/_emulator/journal").check(request.args)
    if issues:
        return problem(400, "Invalid journal filter: " + "; ".join(map(str, issues)))
    limit = values.get("limit", 1000)
    entries = store.journal(values, limit)
    for entry in entries:
        entry["at"] = format_rfc3339(entry["at"])
    return ok({"items": entries, "count": len(entries)})


@bp.get("/jobs")
def jobs() -> Response:
    values, issues = CONTRACT.op("GET", "/_emulator/jobs").check(request.args)
    if issues:
        return problem(400, "Invalid jobs filter: " + "; ".join(map(str, issues)))
    now = core().clock.now()
    items = [job.to_json(now) for job in core().exports.all(values.get("vendor"), values.get("kind"))]
    if values.get("state"):
        items = [j for j in items if j["state"] == values["state"]]
    for item in items:
        for key in ("created_at", "ready_at", "expires_at"):
            item[key] = format_rfc3339(item[key])
    return ok({"items": items, "count": len(items)})


def _session_item(row: dict[str, Any], base: str) -> dict[str, Any]:
    offset = float(json.loads(row["clock_offset"])) if row.get("clock_offset") else 0.0
    scenario = json.loads(row["scenario"]) if row.get("scenario") else {"names": ["default"]}
    name = sessions.public_name(row["name"])
    return {
        "name": name, "seed": core().base_settings.seed if row.get("seed") is None else row["seed"],
        "now": format_rfc3339(core().clock._real_time() + offset), "offset_seconds": round(offset, 3),
        "scenario": scenario["names"], "jobs": row["jobs"],
        "created_at": format_rfc3339(row["created_at"]) if row.get("created_at") else None,
        "last_used": format_rfc3339(row["last_used"]) if row.get("last_used") else None,
        "url": f"{base}{sessions.PREFIX}{name}/",
    }


def _default_session_row() -> dict[str, Any]:
    c = core()
    with sessions.using(sessions.DEFAULT):
        return {"name": "", "seed": None, "clock_offset": json.dumps(c.clock.offset()),
                "scenario": json.dumps(c.faults.active()), "jobs": len(c.store.jobs())}


def _root() -> str:
    """This server's root URL, without the session prefix of the request."""
    return request.host_url.rstrip("/")


@bp.route("/sessions", methods=["GET", "POST"])
def session_list() -> Response:
    """The sessions (the default one first), or a new one (POST: name, optional seed and scenario)."""
    registry = core().sessions
    if request.method == "GET":
        rows = [_default_session_row(), *registry.listing()]
        items = [_session_item(row, _root()) for row in rows]
        return ok({"items": items, "count": len(items), "max_sessions": core().base_settings.max_sessions,
                   "idle_seconds": core().base_settings.session_idle_seconds})
    body, error = _json_body()
    if error:
        return error
    issues = CONTRACT.op("POST", "/_emulator/sessions").check({}, body=json.dumps(body).encode())[1]
    if issues:
        return problem(400, "Invalid session: " + "; ".join(map(str, issues)))
    name = body.get("name")
    if not isinstance(name, str) or not sessions.valid_name(name):
        return problem(400, f"Invalid session name {name!r}: {sessions.NAME_RULE}.")
    if sessions.store_name(name) == "":
        return problem(409, "The default session exists always.")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        return problem(400, "Invalid session: seed: must be an integer >= 0.")
    scenario = body.get("scenario")
    names = None if scenario is None else ([scenario] if isinstance(scenario, str) else scenario)
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        return problem(400, "Invalid session: scenario: a scenario name or a list of them.")
    try:
        registry.create(name, seed, names)
    except KeyError as exc:
        return problem(400, f"Unknown scenario {', '.join(map(repr, exc.args[0]))}.",
                       known=sorted(core().faults.library))
    except sessions.SessionExistsError as exc:
        return problem(409, str(exc))
    except sessions.SessionLimitError as exc:
        return problem(429, str(exc))
    return ok(_one_session(name), status=201)


def _one_session(name: str) -> dict[str, Any] | None:
    stored = sessions.store_name(name)
    if not stored:
        return _session_item(_default_session_row(), _root())
    row = next((r for r in core().store.sessions() if r["name"] == stored), None)
    return _session_item(row, _root()) if row else None


@bp.route("/sessions/<name>", methods=["GET", "DELETE"])
def session_one(name: str) -> Response:
    if not sessions.valid_name(name):
        return problem(400, f"Invalid session name {name!r}: {sessions.NAME_RULE}.")
    if request.method == "DELETE":
        if not sessions.store_name(name):
            return problem(400, "The default session cannot be ended; POST /_emulator/reset resets it.")
        if not core().sessions.delete(name):
            return problem(404, f"No session {name!r}.")
        return ok({"status": "deleted", "name": name})
    item = _one_session(name)
    return ok(item) if item else problem(404, f"No session {name!r}.")


from . import ui  # noqa: F401  (registers the dashboard routes on bp; imported last, it needs bp)
