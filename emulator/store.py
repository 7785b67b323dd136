"""State shared by every gunicorn worker: SQLite in WAL mode in the state directory.

Holds export jobs, counters (fault rules, rate limits), the clock offset, the active scenario and the
request journal. Each process and thread opens its own connection; nothing lives in module globals.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at REAL NOT NULL,
    ready_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_vendor ON jobs (vendor, kind);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    vendor TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    headers TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    body_size INTEGER NOT NULL,
    status INTEGER NOT NULL,
    fault TEXT,
    worker INTEGER NOT NULL
);
"""

JOB_COLUMNS = ("id", "vendor", "kind", "request", "created_at", "ready_at", "expires_at", "outcome", "meta")


BUSY_TIMEOUT_S = 10.0


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


class Store:
    """A small typed facade over one SQLite file. Safe across processes (WAL) and threads.

    Two choices keep a request's few statements in microseconds while two workers write at once (an insert
    racing another worker's: p99 1.3-3.2 ms before, 0.25 ms after):
    - SQLite's own busy handler sleeps 1 ms, then longer, when another process holds the write lock for
      some 20 us; `_run` retries after 20 us instead (up to BUSY_TIMEOUT_S).
    - synchronous=OFF: no fsync at WAL checkpoints. The state lives as long as the emulator; an OS crash
      may lose it, a crash of the emulator cannot.
    """

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._local = threading.local()
        self._run(lambda conn: conn.executescript(_SCHEMA))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            # Held before the pragmas run, through _run, which asks for this same connection again.
            self._local.conn, self._local.pid = conn, os.getpid()
            self._run(lambda c: (c.execute("PRAGMA journal_mode=WAL"), c.execute("PRAGMA synchronous=OFF")))
        return conn

    def _run(self, work):
        """work(connection), retried while another process holds the lock it needs."""
        deadline, pause = time.monotonic() + BUSY_TIMEOUT_S, 0.00002
        while True:
            try:
                return work(self._conn())
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.001)

    def _one(self, sql: str, args: Any = ()) -> sqlite3.Row | None:
        return self._run(lambda conn: conn.execute(sql, args).fetchone())

    def _all(self, sql: str, args: Any = ()) -> list[sqlite3.Row]:
        return self._run(lambda conn: conn.execute(sql, args).fetchall())

    def _do(self, sql: str, args: Any = ()) -> sqlite3.Cursor:
        return self._run(lambda conn: conn.execute(sql, args))

    # --- key/value ---------------------------------------------------------------------------
    def begin_request(self) -> None:
        """From here to end_request, the key/value table (a clock offset and a scenario) is read once, whole,
        in one statement: a request sees one state of it, and its own writes (a status request read the clock
        offset four times, 8 us a read, and the scenario once more). A value got is shared within the
        request: never change it in place."""
        self._local.memo = {row[0]: json.loads(row[1]) for row in self._all("SELECT key, value FROM kv")}

    def end_request(self) -> None:
        self._local.memo = None

    def _memo(self) -> dict[str, Any] | None:
        return getattr(self._local, "memo", None)

    def get(self, key: str, default: Any = None) -> Any:
        memo = self._memo()
        if memo is not None:
            return memo.get(key, default)
        row = self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        text = json.dumps(value)
        self._do(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, text),
        )
        memo = self._memo()
        if memo is not None:
            memo[key] = json.loads(text)  # as stored, and not the caller's object

    def add(self, key: str, delta: float, low: float, high: float) -> float | None:
        """Add `delta` to a number kept under `key` (missing: 0) in one statement, so that concurrent adds are
        never lost; the sum must lie in [low, high], else nothing changes and the answer is None."""
        row = self._one(
            "INSERT INTO kv (key, value) SELECT ?1, ?2 "
            "WHERE ?2 BETWEEN ?3 AND ?4 OR EXISTS (SELECT 1 FROM kv WHERE key = ?1) "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS REAL) + excluded.value "
            "WHERE CAST(value AS REAL) + excluded.value BETWEEN ?3 AND ?4 RETURNING value",
            (key, float(delta), float(low), float(high)),
        )
        if row is None:
            return None
        value = float(row[0])
        memo = self._memo()
        if memo is not None:
            memo[key] = value
        return value

    def delete(self, key: str) -> None:
        self._do("DELETE FROM kv WHERE key = ?", (key,))
        memo = self._memo()
        if memo is not None:
            memo.pop(key, None)

    # --- counters ----------------------------------------------------------------------------
    def incr(self, key: str, by: int = 1) -> int:
        """Atomically add to a counter and return its new value (shared by all workers)."""
        row = self._one(
            "INSERT INTO counters (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value RETURNING value",
            (key, by),
        )
        return int(row[0])

    def counter(self, key: str) -> int:
        row = self._one("SELECT value FROM counters WHERE key = ?", (key,))
        return int(row[0]) if row else 0

    def clear_counters(self, prefix: str = "") -> None:
        self._do("DELETE FROM counters WHERE key LIKE ?", (prefix.replace("%", r"\%") + "%",))

    # --- jobs --------------------------------------------------------------------------------
    def insert_job(self, job: dict[str, Any]) -> None:
        row = dict(job, request=json.dumps(job["request"], sort_keys=True), meta=json.dumps(job["meta"]))
        self._do(
            f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({', '.join('?' * len(JOB_COLUMNS))})",
            tuple(row[c] for c in JOB_COLUMNS),
        )

    def update_job(self, job_id: str, **fields: Any) -> None:
        if "meta" in fields:
            fields["meta"] = json.dumps(fields["meta"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._do(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))

    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    def jobs(self, vendor: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if vendor:
            sql, args = sql + " AND vendor = ?", args + [vendor]
        if kind:
            sql, args = sql + " AND kind = ?", args + [kind]
        return [_job(r) for r in self._all(sql + " ORDER BY created_at, id", args)]

    # --- journal -----------------------------------------------------------------------------
    _JOURNAL_COLUMNS = ("at", "vendor", "method", "path", "query", "headers", "body_digest", "body_size", "status",
                        "fault")
    _INSERT_JOURNAL = (f"INSERT INTO journal ({', '.join(_JOURNAL_COLUMNS)}, worker) "
                       f"VALUES ({', '.join('?' * (len(_JOURNAL_COLUMNS) + 1))})")

    def append_journal(self, entry: dict[str, Any], limit: int) -> None:
        row = [entry[c] for c in self._JOURNAL_COLUMNS]
        row[5] = json.dumps(row[5])
        row.append(os.getpid())
        cur = self._do(self._INSERT_JOURNAL, row)
        # Bounded: keep the newest `limit` entries (trimmed in batches to keep inserts cheap).
        if cur.lastrowid and cur.lastrowid % 100 == 0:
            self._do("DELETE FROM journal WHERE id <= ?", (cur.lastrowid - limit,))

    def journal(self, filters: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM journal WHERE 1=1", []
        for column in ("vendor", "method", "status"):
            if filters.get(column) is not None:
                sql, args = sql + f" AND {column} = ?", args + [filters[column]]
        if filters.get("path"):
            sql, args = sql + " AND path LIKE ?", args + [filters["path"].replace("*", "%")]
        rows = self._all(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return [dict(r, headers=json.loads(r["headers"])) for r in reversed(rows)]

    def clear_journal(self) -> None:
        self._do("DELETE FROM journal")

    # --- reset -------------------------------------------------------------------------------
    def reset(self, keep: Iterable[str] = ()) -> None:
        """Drop jobs, counters and journal, and every key but those in `keep`."""
        keep = list(keep)
        conn = self._conn()
        self._do("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM jobs")
            conn.execute("DELETE FROM counters")
            conn.execute("DELETE FROM journal")
            conn.execute(f"DELETE FROM kv WHERE key NOT IN ({', '.join('?' * len(keep))})", keep)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        memo = self._memo()
        if memo is not None:
            for key in [key for key in memo if key not in keep]:
                del memo[key]


def _job(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    job["request"] = json.loads(job["request"])
    job["meta"] = json.loads(job["meta"])
    return job
