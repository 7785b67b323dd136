"""What a session costs (docs/sessions.md): requests per second of the APSIS export status endpoint in the
default session and in one of 1,000 live sessions, in the same run of one server; and the store's size per
session.

`python -m benchmarks.sessions [--sessions N] [--seconds S]` prints the table. Each live session holds what a
client leaves there: a clock moved, a token, one pending email export, the journal of those requests. wrk
(2 threads, 16 connections) runs against `serve` (granian, 2 workers) with the token limit off and a long
export delay (as benchmarks.load), alternating default and session runs; the median run of each is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor

from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET

from .load import SERVER_ENV, _lua, _wrk
from .serving import NOW, _call, start_server

RUNS = 3
CREDS = {"grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
         "client_secret": DEFAULT_APSIS_CLIENT_SECRET}
WINDOW = {"start_at": "2026-05-30T00:00:00Z", "end_at": "2026-05-31T00:00:00Z"}


def _live_session(base: str, name: str) -> tuple[str, dict[str, str]]:
    """A session used as a client would: clock set, token, one export requested and polled once."""
    prefix = f"{base}/sessions/{name}" if name else base
    _call(prefix + "/_emulator/clock", {"set": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")})
    bearer = {"Authorization": "Bearer " + json.loads(_call(prefix + "/apsis/oauth/token", CREDS))["access_token"]}
    report = json.loads(_call(prefix + "/apsis/emails/reports", WINDOW, bearer))["report_id"]
    url = f"{prefix}/apsis/emails/reports/{report}"
    _call(url, headers=bearer)
    return url, bearer


def _db_bytes(state: str) -> int:
    for name in ("emulator.db", "journal.db"):
        with sqlite3.connect(os.path.join(state, name)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(os.path.getsize(os.path.join(state, n)) for n in ("emulator.db", "journal.db"))


def _row_bytes(state: str, session: str) -> int:
    """Bytes of a session's rows (keys and values, counters, jobs, journal entries) as stored."""
    total = 0
    with sqlite3.connect(os.path.join(state, "emulator.db")) as conn:
        for table in ("kv", "counters", "jobs"):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            size = " + ".join(f"coalesce(length(CAST({c} AS BLOB)), 0)" for c in columns)
            total += conn.execute(f"SELECT coalesce(sum({size}), 0) FROM {table} WHERE session = ?",
                                  (session,)).fetchone()[0]
        total += conn.execute("SELECT coalesce(sum(length(name) + 24), 0) FROM sessions WHERE name = ?",
                              (session,)).fetchone()[0]
    with sqlite3.connect(os.path.join(state, "journal.db")) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(journal)")]
        size = " + ".join(f"coalesce(length(CAST({c} AS BLOB)), 0)" for c in columns)
        total += conn.execute(f"SELECT coalesce(sum({size}), 0) FROM journal WHERE session = ?",
                              (session,)).fetchone()[0]
    return total


def run(sessions: int = 1000, seconds: float = 4.0) -> list[tuple[str, str]]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian package wrk)")
    state = tempfile.mkdtemp(prefix="bench-sessions-")
    env = {**SERVER_ENV, "EMULATOR_MAX_SESSIONS": str(sessions + 10)}
    proc, base, _ = start_server("--workers", "2", "--state-dir", state, env=env)
    try:
        default_url, default_auth = _live_session(base, "")
        before = _db_bytes(state)
        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(lambda i: _live_session(base, f"bench-{i:04d}"), range(sessions)))
        after = _db_bytes(state)
        rows_bytes = _row_bytes(state, "bench-0000")  # before the load: the journal of its own flow only
        session_url, session_auth = made[sessions // 2]
        listed = json.loads(_call(base + "/_emulator/sessions"))["count"] - 1
        figures: dict[str, list[float]] = {"default": [], "session": []}
        cases = {"default": (default_url, default_auth), "session": (session_url, session_auth)}
        for url, auth in cases.values():
            _wrk(url, _lua("GET", auth, None), 1)  # warm-up, not measured
        for _ in range(RUNS):
            for case, (url, auth) in cases.items():
                figures[case].append(_wrk(url, _lua("GET", auth, None), seconds)[0])
    finally:
        proc.terminate()
        proc.wait()
    median = {case: sorted(values)[len(values) // 2] for case, values in figures.items()}
    return [
        ("named sessions live", f"{listed:,}"),
        ("APSIS export status, default session (req/s)", f"{median['default']:,.0f}"),
        (f"APSIS export status, one of {sessions:,} sessions (req/s)", f"{median['session']:,.0f}"),
        ("session / default", f"{median['session'] / median['default']:.2f}"),
        ("store files growth per session (bytes, emulator.db + journal.db)", f"{(after - before) / sessions:,.0f}"),
        ("rows of one session (bytes, journal included)", f"{rows_bytes:,}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    rows = run(args.sessions, args.seconds)
    width = max(len(k) for k, _ in rows)
    print(f"| {'figure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
