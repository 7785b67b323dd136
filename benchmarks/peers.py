"""`python -m benchmarks.peers`: small requests side by side, in one run on this machine: the emulator (its
default server, and gunicorn) on three APSIS endpoints (an export status, pending; the sections lookup; a
profile export's poll URL answering 404), Prism mocking the same endpoints from the emulator's own APSIS
contract (its examples set to the emulator's answers, the same requests sent), and, answering one fixed body
(the export status's), a bare Flask app under the emulator's two servers, Prism with a one-path document and
WireMock. wrk (-t2 -c16) on loopback; a warm-up run per target, then ROUNDS rounds taking every target in turn;
the medians are printed, with the server's CPU per request (user + system time of the server's processes over
the requests wrk counted).

Prism (npm @stoplight/prism-cli) and WireMock (npm wiremock, run with the machine's Java) are installed with
npm into PEERS_DIR (default ~/.cache/email-events-emulator/bench-peers); a peer that cannot be installed or
started is skipped with a line saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from emulator.contracts import contracts_dir
from tests.e2e.server import free_port

from . import load
from .serving import start_server

ROUNDS = 3
CONNECTIONS = 16
PEERS_DIR = Path(os.environ.get("PEERS_DIR", Path.home() / ".cache" / "email-events-emulator" / "bench-peers"))
NPM_PACKAGES = ("@stoplight/prism-cli@5", "wiremock@3")
HERE = Path(__file__).parent
# Endpoints of the emulator measured (load.py's names) and their targets: req/s against Prism's, p99.
SAME_BODY = "same body"  # a row answering one fixed body: the export status's
EMULATOR_ENDPOINTS = ("APSIS export status (pending)", "APSIS lookup (GET /audience/sections)",
                      "APSIS profile poll URL (404)")


@dataclass
class Target:
    server: str
    endpoint: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    pid: int | None = None  # the server's main process: its tree's CPU is counted
    runs: list[tuple[float, float, float]] = field(default_factory=list)  # (req/s, p99 ms, CPU us a request)
    body: bytes = b""

    @property
    def body_bytes(self) -> int:
        return len(self.body)


def _wrk(target: Target, seconds: float) -> tuple[float, float, float]:
    script = load._lua(target.method, target.headers, None)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    cpu0 = _tree_cpu(target.pid) if target.pid else 0.0
    out = subprocess.run(["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{max(1, round(seconds))}s",
                          "--latency", "-s", handle.name, target.url],
                         capture_output=True, text=True, check=True).stdout
    cpu = (_tree_cpu(target.pid) - cpu0) if target.pid else 0.0
    os.unlink(handle.name)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = load._ms(re.search(r"^\s*99%\s+(\S+)", out.split("Latency Distribution", 1)[1], re.MULTILINE).group(1))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out) and "404" not in target.endpoint:
        raise RuntimeError(f"{target.server} {target.endpoint}: error answers under load:\n{out}")
    return rps, p99, cpu / max(requests, 1) * 1e6


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants alive now, their waited-for children
    included."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no answer at {url} within {seconds:g} s")


class Peers:
    """The processes started for one run, stopped at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.skipped: list[str] = []

    def popen(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _emulator(peers: Peers, server: str) -> tuple[list[Target], bytes]:
    proc, base, _ = start_server("--server", server, "--workers", "2", env=load.SERVER_ENV)
    peers.procs.append(proc)
    targets, status_body = [], b""
    for endpoint, method, url, headers, _body, _target in load._targets(base):
        if endpoint in EMULATOR_ENDPOINTS:
            _code, body = _get(url, headers)
            targets.append(Target(f"emulator ({server})", endpoint, url, method, headers, proc.pid, body=body))
            if "status" in endpoint:
                status_body = body
    return targets, status_body


def _bare_flask(peers: Peers, server: str, body: bytes) -> Target:
    port = free_port()
    env = {**os.environ, "BENCH_BODY": body.decode()}
    if server == "granian":
        cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--http", "1", "--no-ws", "--workers", "2",
               "--blocking-threads", "1", "--port", str(port), "--log-level", "warning",
               "benchmarks.bare_flask:app"]
    else:
        cmd = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "--no-control-socket", "benchmarks.bare_flask:app"]
    proc = peers.popen(cmd, env=env, cwd=HERE.parent)
    url = f"http://127.0.0.1:{port}/status"
    _wait(url, proc)
    return Target(f"bare Flask ({server})", SAME_BODY, url, pid=proc.pid, body=_get(url)[1])


def _npm_install() -> str | None:
    """Install the npm peers into PEERS_DIR; None, or why it could not."""
    if all((PEERS_DIR / "node_modules" / name.rsplit("@", 1)[0]).exists() for name in NPM_PACKAGES):
        return None
    if not shutil.which("npm"):
        return "npm is not installed (apt-get install npm)"
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PEERS_DIR),
                           *NPM_PACKAGES], capture_output=True, text=True, timeout=600, check=False)
    return None if done.returncode == 0 else f"npm install failed: {done.stderr.strip()[-300:]}"


def _prism_command(peers: Peers, spec: dict) -> tuple[subprocess.Popen, str, str]:
    """Prism mocking `spec` (quiet: errors only): its process, base URL and version."""
    prism = PEERS_DIR / "node_modules" / ".bin" / "prism"
    if not prism.exists():
        raise RuntimeError("npm package @stoplight/prism-cli is not installed")
    path = Path(tempfile.mkdtemp(prefix="bench-prism-")) / "openapi.json"
    path.write_text(json.dumps(spec))
    port = free_port()
    version = subprocess.run([str(prism), "--version"], capture_output=True, text=True, check=False).stdout.strip()
    proc = peers.popen([str(prism), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "error", str(path)])
    return proc, f"http://127.0.0.1:{port}", version


def _prism_apsis(peers: Peers, emulator: list[Target]) -> list[Target]:
    """Prism mocking the emulator's APSIS contract: the same paths (without the emulator's /apsis prefix), the
    same headers (Prism checks the bearer scheme and the parameters), each answer's example set to the
    emulator's body; the poll URL asked for its 404 with Prism's `Prefer: code=404`."""
    spec = yaml.safe_load((contracts_dir() / "apsis-one.openapi.yaml").read_text())
    operations = {"APSIS export status (pending)": ("/emails/reports/{report_id}", "200", "application/json"),
                  "APSIS lookup (GET /audience/sections)": ("/audience/sections", "200", "application/json"),
                  "APSIS profile poll URL (404)": ("/audience/profiles/exports/{export_id}", "404",
                                                   "application/problem+json")}
    for target in emulator:
        path, status, media = operations[target.endpoint]
        responses = spec["paths"][path]["get"]["responses"]
        responses[status] = {"description": status, "content": {media: {"example": json.loads(target.body)}}}
    proc, base, version = _prism_command(peers, spec)
    targets = []
    for target in emulator:
        path = urllib.parse.urlsplit(target.url).path.removeprefix("/apsis")
        headers = dict(target.headers, **({"Prefer": "code=404"} if "404" in target.endpoint else {}))
        url = base + path
        if not targets:
            _wait(url, proc)
        code, body = _get(url, headers)
        if code != _get(target.url, target.headers)[0]:
            raise RuntimeError(f"Prism answered {code} for {target.endpoint}")
        targets.append(Target(f"Prism {version}", target.endpoint, url, headers=headers, pid=proc.pid, body=body))
    return targets


def _prism_one_path(peers: Peers, body: bytes) -> list[Target]:
    spec = {"openapi": "3.0.3", "info": {"title": "status", "version": "1"},
            "paths": {"/status": {"get": {"responses": {"200": {
                "description": "pending", "content": {"application/json": {"example": json.loads(body)}}}}}}}}
    proc, base, version = _prism_command(peers, spec)
    url = base + "/status"
    _wait(url, proc)
    return [Target(f"Prism {version}, one path", SAME_BODY, url, pid=proc.pid, body=_get(url)[1])]


def _wiremock(peers: Peers, body: bytes) -> list[Target]:
    jars = sorted((PEERS_DIR / "node_modules" / "wiremock").glob("build/wiremock-standalone-*.jar"))
    if not jars:
        raise RuntimeError("npm package wiremock is not installed")
    java = shutil.which("java")
    if not java:
        raise RuntimeError("no Java runtime (apt-get install default-jre-headless)")
    root = Path(tempfile.mkdtemp(prefix="bench-wiremock-"))
    (root / "mappings").mkdir()
    (root / "mappings" / "status.json").write_text(json.dumps({
        "request": {"method": "GET", "url": "/status"},
        "response": {"status": 200, "body": body.decode(), "headers": {"Content-Type": "application/json"}}}))
    port = free_port()
    proc = peers.popen([java, "-jar", str(jars[-1]), "--bind-address", "127.0.0.1", "--port", str(port),
                        "--root-dir", str(root), "--no-request-journal", "--disable-request-logging",
                        "--disable-banner"])
    url = f"http://127.0.0.1:{port}/status"
    _wait(url, proc)
    version = jars[-1].stem.rsplit("-", 1)[1]
    return [Target(f"WireMock {version}", SAME_BODY, url, pid=proc.pid, body=_get(url)[1])]


def run(seconds: float = 5.0, rounds: int = ROUNDS) -> tuple[list[Target], list[str]]:
    if not shutil.which("wrk"):
        return [], ["wrk is not installed (apt-get install wrk): nothing measured"]
    peers = Peers()
    targets: list[Target] = []
    try:
        emulator, body = _emulator(peers, "granian")
        targets += emulator
        targets += _emulator(peers, "gunicorn")[0]
        for server in ("granian", "gunicorn"):
            targets.append(_bare_flask(peers, server, body))
        why = _npm_install()
        starters: list[tuple[str, Callable[[], list[Target]]]] = [
            ("Prism (APSIS contract)", lambda: _prism_apsis(peers, emulator)),
            ("Prism (one path)", lambda: _prism_one_path(peers, body)),
            ("WireMock", lambda: _wiremock(peers, body))]
        for name, start in starters:
            if why:
                peers.skipped.append(f"{name}: skipped: {why}")
                continue
            try:
                targets += start()
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                peers.skipped.append(f"{name}: skipped: {exc}")
        for target in targets:  # warm-up, not measured: each worker builds the world, the JVM compiles
            _wrk(target, 1)
        for _ in range(rounds):
            for target in targets:
                target.runs.append(_wrk(target, seconds))
    finally:
        peers.stop()
    return targets, peers.skipped


def _median(target: Target, i: int) -> float:
    return statistics.median(run[i] for run in target.runs)


def report(targets: list[Target], skipped: list[str], seconds: float, rounds: int) -> str:
    from .__main__ import table

    # Prism on the same endpoint (the fixed-body rows: on the export status, whose body they answer).
    prism = {t.endpoint: t for t in targets if t.server.startswith("Prism") and t.endpoint != SAME_BODY}
    prism[SAME_BODY] = prism.get(EMULATOR_ENDPOINTS[0])
    flask = {t.server.split("(")[1].rstrip(")"): t for t in targets if t.server.startswith("bare Flask")}
    rows = []
    for t in targets:
        rps, p99, cpu = (_median(t, i) for i in range(3))
        peer = prism.get(t.endpoint)
        vs_prism = f"{rps / _median(peer, 0):.2f}x" if peer else "-"
        own = ""
        if t.server.startswith("emulator"):
            base = flask.get(t.server.split("(")[1].rstrip(")"))
            own = f"{cpu / _median(base, 2):.2f}x" if base else ""
        rows.append([t.server, t.endpoint, str(t.body_bytes), f"{rps:,.0f}", f"{p99:.2f}", f"{cpu:.0f}",
                     vs_prism, own])
    text = (f"wrk -t2 -c{CONNECTIONS} -d{seconds:g}s on loopback, every target warmed up for a second, then "
            f"{rounds} rounds taking the targets in turn; medians. Prism mocks the emulator's APSIS contract "
            "(each answer's example set to the emulator's body, the same requests sent; the poll URL's 404 "
            "asked for with `Prefer: code=404`); the rows answering the same body answer the export status's, "
            "Prism there from a one-path document. CPU: user + system time of the server's processes over the "
            "requests served. `vs Prism`: req/s over Prism's on the same endpoint in the same run. `CPU vs bare "
            "Flask`: the emulator's CPU per request over a bare Flask app's under the same server. Targets: the "
            "emulator's default server at >= 1.5x Prism's req/s and p99 < 10 ms on these endpoints, and at most "
            "2x a bare Flask app's CPU per request.\n\n")
    text += table(["server", "endpoint", "body bytes", "req/s", "p99 ms", "CPU us/request", "vs Prism",
                   "CPU vs bare Flask"], rows)
    if skipped:
        text += "\n\n" + "\n".join(f"- {line}" for line in skipped)
    return text


SECTION = "## Small requests side by side (emulator, bare Flask, Prism, WireMock)"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk run per target and round (default 5)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--write", action="store_true", help=f"also put the table into RESULTS.md ({SECTION!r})")
    args = parser.parse_args()
    targets, skipped = run(args.seconds, args.rounds)
    text = report(targets, skipped, args.seconds, args.rounds) if targets else "\n".join(skipped)
    print(text)
    if args.write:
        results = HERE / "RESULTS.md"
        current = results.read_text()
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        command = " ".join(["python -m benchmarks.peers", *sys.argv[1:]])
        section = f"{SECTION}\n\nCommand: `{command}`, {stamp}.\n\n{text}\n"
        if SECTION in current:
            before, rest = current.split(SECTION, 1)
            after = rest.split("\n## ", 1)[1] if "\n## " in rest else None
            current = before + section + ("\n## " + after if after is not None else "")
        else:
            current = current.rstrip("\n") + "\n\n" + section
        results.write_text(current)


if __name__ == "__main__":
    main()
