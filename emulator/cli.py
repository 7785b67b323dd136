"""The command line: `email-events-emulator serve | scenarios | conform | generate`."""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import os
import shutil
import sys
from collections.abc import Sequence
from importlib import import_module

from . import __version__
from .contracts import parse_yaml
from .faults import ScenarioError, load_library
from .servers import PortBusy, server_of
from .settings import VENDORS, Settings, SettingsError, from_env


def _serve_args(sub) -> None:
    p = sub.add_parser("serve", help="run the emulator server (every flag also reads an EMULATOR_* variable)")
    p.add_argument("--host", help="interface to listen on (EMULATOR_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="main port (EMULATOR_PORT, default 8080)")
    p.add_argument("--server", choices=["auto", "granian", "gunicorn"],
                   help="HTTP server (EMULATOR_SERVER): granian (keep-alive) or gunicorn; default auto: granian, "
                        "gunicorn with --vendor-ports")
    p.add_argument("--workers", type=int, help="worker processes (EMULATOR_WORKERS, default 2)")
    p.add_argument("--threads", type=int, help="threads per worker (EMULATOR_THREADS, default 1); under gunicorn "
                                               ">1 uses gthread workers")
    p.add_argument("--seed", type=int, help="seed of the world (EMULATOR_SEED, default 42)")
    p.add_argument("--scale", type=float, help="volume multiplier (EMULATOR_SCALE, default 1.0)")
    p.add_argument("--scenario", action="append", help="named scenario, repeatable (EMULATOR_SCENARIO, comma list)")
    p.add_argument("--state-dir", help="shared state directory (EMULATOR_STATE_DIR, default: a fresh temp dir)")
    p.add_argument("--scenario-dir", help="directory of extra scenario files (EMULATOR_SCENARIO_DIR)")
    p.add_argument("--vendor-ports", action="store_true", default=None,
                   help="also serve each vendor at the root of its own port: main+1 apsis, +2 expertsender, "
                        "+3 netcore (EMULATOR_VENDOR_PORTS=1)")
    p.add_argument("--log-level", help="server log level (EMULATOR_LOG_LEVEL, default info)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    scenarios = None
    if args.scenario:
        scenarios = tuple(n.strip() for item in args.scenario for n in item.split(",") if n.strip())
    return from_env(host=args.host, port=args.port, server=args.server, workers=args.workers, threads=args.threads,
                    seed=args.seed,
                    scale=args.scale, scenarios=scenarios, state_dir=args.state_dir,
                    scenario_dir=args.scenario_dir, vendor_ports=args.vendor_ports, log_level=args.log_level)


def banner(settings: Settings) -> str:
    from .app import base_urls

    lines = [f"email-events-emulator {__version__}", "settings:"]
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name == "control_token":
            value = "(set)" if value else "(not set)"
        if f.name == "server":
            value = server_of(settings)
        lines.append(f"  {f.name:<24} {value}")
    lines.append("base URLs:")
    lines.extend(f"  {name:<24} {url}" for name, url in base_urls(settings).items())
    return "\n".join(lines)


def serve(settings: Settings) -> int:
    from . import servers
    from .app import create_app, tune_gc
    from .core import build_core

    binds = [(settings.host, settings.port)]
    if settings.vendor_ports:
        binds += [(settings.host, settings.vendor_port(v)) for v in VENDORS]
    servers.check_ports(settings.host, [port for _, port in binds])  # before the banner shows these URLs
    core = build_core(settings)  # fails fast on bad scenario files, before any worker starts
    if not settings.state_dir:  # a temporary state directory lives as long as the server
        atexit.register(shutil.rmtree, core.settings.state_dir, True)
    settings = core.settings
    app = create_app(settings, core)
    print(banner(settings), flush=True)
    tune_gc()
    servers.run(app, settings, binds)
    return 0


def scenarios(scenario_dir: str | None) -> int:
    library = load_library(scenario_dir)
    width = max(len(n) for n in library)
    for name, doc in sorted(library.items()):
        print(f"{name:<{width}}  {doc['description']}")
    return 0


def conform(args: argparse.Namespace) -> int:
    from .conform import CredentialError, Target, flag_credentials, print_table, run
    from .contracts import contracts_dir
    from .vendors import VENDOR_APPS

    path = args.contract
    if not os.path.exists(path) and os.path.exists(contracts_dir() / path):
        path = str(contracts_dir() / path)
    with open(path) as handle:
        contract = parse_yaml(handle.read()) or {}
    creds: dict = {}
    if args.auth_from_env:
        vendor = contract.get("x-emulator", {}).get("vendor")
        if vendor not in VENDOR_APPS:
            print(f"{path}: no vendor credentials hook for {vendor!r}", file=sys.stderr)
            return 2
        hooks = import_module(VENDOR_APPS[vendor][0])
        missing = [n for n in hooks.LIVE_ENV[1:] if not os.environ.get(n)]
        if missing:
            print(f"--auth-from-env needs {', '.join(missing)}", file=sys.stderr)
            return 2
        creds = hooks.live_auth(dict(os.environ, **{hooks.LIVE_ENV[0]: args.base_url}))
    try:
        creds.update(flag_credentials(contract, args.header or [], args.query or []))
    except ValueError as exc:
        print(f"email-events-emulator conform: {exc}", file=sys.stderr)
        return 2
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    try:
        rows = run(path, Target(args.base_url, poll_timeout=args.poll_timeout), creds,
                   max_examples=args.max_examples, modes=modes, stateful_examples=args.stateful_examples,
                   operations=args.operation)
    except CredentialError as exc:
        print(f"email-events-emulator conform: {exc}", file=sys.stderr)
        return 2
    print_table(rows)
    if args.report:
        _conform_report(rows, path, args)
    return 0 if all(r.ok for r in rows) else 1


def _generate_args(sub) -> None:
    p = sub.add_parser("generate", help="write a vendor's export file to disk without a server",
                       description="Write the file the server would serve for the same request (byte-identical), "
                                   "running it through the app in-process and moving the virtual clock instead "
                                   "of waiting. A progress bar on a terminal; a summary line on stderr.")
    p.add_argument("vendor", help="apsis | expertsender | netcore")
    p.add_argument("kind", help="apsis: email-events | profile-events; expertsender: activities; netcore: download")
    p.add_argument("--out", "-o", help="output file, or a directory for the default file name(s); a range of "
                                       "ExpertSender days writes one file per day into a directory "
                                       "(default: the current directory)")
    p.add_argument("--start", help="window start: YYYY-MM-DD (midnight UTC for APSIS) or RFC 3339; the first day "
                                   "for ExpertSender and Netcore")
    p.add_argument("--end", help="APSIS: window end, exclusive (default --start + 1 day; profile export: the "
                                 "vendor's default, a week); ExpertSender, Netcore: the last day, inclusive "
                                 "(default --start)")
    p.add_argument("--date", help="one day, instead of --start and --end")
    p.add_argument("--type", default="Sends", help="ExpertSender activity type (default Sends)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="any other request parameter, repeatable: a query parameter for ExpertSender, a JSON body "
                        "field for APSIS and Netcore (JSON values such as lists are parsed)")
    p.add_argument("--compression", choices=["gzip", "none"],
                   help="gzip or none (default: as the vendor serves it: the APSIS email export gzip, the others "
                        "plain; none gunzips the APSIS email export file)")
    p.add_argument("--seed", type=int, help="seed of the world (EMULATOR_SEED, default 42)")
    p.add_argument("--scale", type=float, help="volume multiplier (EMULATOR_SCALE, default 1.0)")
    p.add_argument("--scenario", action="append",
                   help="scenario to run the request under, repeatable (default: default, no faults; "
                        "EMULATOR_SCENARIO is not read)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary, errors only")


def generate(args: argparse.Namespace) -> int:
    from datetime import datetime, timedelta

    from .generate import KINDS, GenerateError, Request, parse_moment, parse_params
    from .generate import generate as run

    prog = "email-events-emulator generate"
    if args.vendor not in KINDS:
        print(f"{prog}: unknown vendor {args.vendor!r}: one of {', '.join(KINDS)}", file=sys.stderr)
        return 2
    if args.kind not in KINDS[args.vendor]:
        print(f"{prog}: unknown kind {args.kind!r} for {args.vendor}: one of {', '.join(KINDS[args.vendor])}",
              file=sys.stderr)
        return 2
    scenarios = tuple(n.strip() for item in args.scenario or ["default"] for n in item.split(",") if n.strip())
    try:
        settings = from_env(seed=args.seed, scale=args.scale, scenarios=scenarios)
        if args.date and (args.start or args.end):
            raise GenerateError("--date replaces --start and --end: give one or the other")
        if args.date:
            day = parse_moment(args.date, "--date")
            if isinstance(day, datetime):
                raise GenerateError(f"--date: expected YYYY-MM-DD, got {args.date!r}")
            start, end = day, (day + timedelta(days=1) if args.vendor == "apsis" else day)
        else:
            start, end = parse_moment(args.start, "--start"), parse_moment(args.end, "--end")
        req = Request(args.vendor, args.kind, start, end, args.type, parse_params(args.param), args.compression)
        files = run(settings, req, args.out, show_progress=False if args.quiet else None)
    except (GenerateError, SettingsError, ScenarioError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        for f in files:
            rows = f" {f.rows:,} {f.unit}," if f.rows is not None else ""
            rate = f.size / 1e6 / max(f.seconds, 1e-9)
            print(f"{f.path}: {f.size:,} bytes,{rows} {f.seconds:.2f} s ({rate:.1f} MB/s)", file=sys.stderr)
    return 0


def _conform_report(rows, path: str, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from .conform import write_report

    with open(path) as handle:
        info = (parse_yaml(handle.read()) or {}).get("info", {})
    meta = {"title": f"{info.get('title', os.path.basename(path))} {info.get('version', '')}".strip(),
            "contract": os.path.basename(path), "base URL": args.base_url,
            "run at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "emulator": __version__, "examples per operation": str(args.max_examples), "modes": args.modes}
    write_report(rows, args.report, meta)
    print(f"report written to {args.report}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="email-events-emulator",
                                     description="Local emulator of email-event export APIs (APSIS One, "
                                                 "ExpertSender, Netcore).")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_args(sub)
    sp = sub.add_parser("scenarios", help="list the named scenarios")
    sp.add_argument("--scenario-dir", default=os.environ.get("EMULATOR_SCENARIO_DIR"))
    cp = sub.add_parser("conform", help="run a contract's checks against a server and print a summary table")
    cp.add_argument("--contract", required=True, help="OpenAPI file (a path, or a name in contracts/)")
    cp.add_argument("--base-url", required=True, help="server base URL, e.g. http://127.0.0.1:8080/apsis")
    cp.add_argument("--header", action="append",
                    help="a credential header 'Name: value' (repeatable) of one of the contract's security schemes, "
                         "e.g. 'api_key: KEY' or 'Authorization: Bearer TOKEN'")
    cp.add_argument("--query", action="append",
                    help="a credential query parameter 'name=value' (repeatable), e.g. apiKey=KEY")
    cp.add_argument("--auth-from-env", action="store_true",
                    help="credentials from the vendor's variables (e.g. APSIS_CLIENT_ID, APSIS_CLIENT_SECRET: "
                         "a token fetched once and refreshed before it expires)")
    cp.add_argument("--max-examples", type=int, default=25, help="examples per operation and mode (default 25)")
    cp.add_argument("--modes", default="positive,negative,stateful",
                    help="comma list of positive, negative, stateful (default: all three)")
    cp.add_argument("--stateful-examples", type=int, default=8,
                    help="scenarios of the stateful phase, each up to 10 linked calls (default 8)")
    cp.add_argument("--poll-timeout", type=float, default=30.0,
                    help="seconds a stateful step waits for a pending export to become ready (default 30)")
    cp.add_argument("--report", help="also write a report: Markdown (.md) or HTML (.html), e.g. to attach to CI")
    cp.add_argument("--operation", action="append",
                    help="only this operation in positive and negative mode, as 'METHOD /path' from the "
                         "contract (repeatable; default: every operation)")
    _generate_args(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(settings_from_args(args))
        if args.command == "scenarios":
            return scenarios(args.scenario_dir)
        if args.command == "generate":
            return generate(args)
        return conform(args)
    except (SettingsError, ScenarioError, ValueError, PortBusy) as exc:
        print(f"email-events-emulator: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
