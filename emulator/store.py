"""State shared by every gunicorn worker: SQLite in WAL mode in the state directory.

Holds export jobs, counters (fault rules, rate limits), the clock offset, the active scenario and the
request journal. Each process and thread opens its own connection; nothing lives in module globals.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
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


class Store:
    """A small typed facade over one SQLite file. Safe across processes (WAL) and threads."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    # --- key/value ---------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        row = self._conn().execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value: Any) -> None:
        self._conn().execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def delete(self, key: str) -> None:
        self._conn().execute("DELETE FROM kv WHERE key = ?", (key,))

    # --- counters ----------------------------------------------------------------------------
    def incr(self, key: str, by: int = 1) -> int:
        """Atomically add to a counter and return its new value (shared by all workers)."""
        row = self._conn().execute(
            "INSERT INTO counters (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value RETURNING value",
            (key, by),
        ).fetchone()
        return int(row[0])

    def counter(self, key: str) -> int:
        row = self._conn().execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def clear_counters(self, prefix: str = "") -> None:
        self._conn().execute("DELETE FROM counters WHERE key LIKE ?", (prefix.replace("%", r"\%") + "%",))

    # --- jobs --------------------------------------------------------------------------------
    def insert_job(self, job: dict[str, Any]) -> None:
        row = dict(job, request=json.dumps(job["request"], sort_keys=True), meta=json.dumps(job["meta"]))
        self._conn().execute(
            f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({', '.join('?' * len(JOB_COLUMNS))})",
            tuple(row[c] for c in JOB_COLUMNS),
        )

    def update_job(self, job_id: str, **fields: Any) -> None:
        if "meta" in fields:
            fields["meta"] = json.dumps(fields["meta"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._conn().execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))

    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, vendor: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if vendor:
            sql, args = sql + " AND vendor = ?", args + [vendor]
        if kind:
            sql, args = sql + " AND kind = ?", args + [kind]
        return [_job(r) for r in self._conn().execute(sql + " ORDER BY created_at, id", args)]

    # --- journal -----------------------------------------------------------------------------
    def append_journal(self, entry: dict[str, Any], limit: int) -> None:
        conn = self._conn()
        cur = conn.execute(
            "INSERT INTO journal (at, vendor, method, path, query, headers, body_digest, body_size, status, fault,"
            " worker) VALUES (:at, :vendor, :method, :path, :query, :headers, :body_digest, :body_size, :status,"
            " :fault, :worker)",
            dict(entry, headers=json.dumps(entry["headers"]), worker=os.getpid()),
        )
        # Bounded: keep the newest `limit` entries (trimmed in batches to keep inserts cheap).
        if cur.lastrowid and cur.lastrowid % 100 == 0:
            conn.execute("DELETE FROM journal WHERE id <= ?", (cur.lastrowid - limit,))

    def journal(self, filters: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM journal WHERE 1=1", []
        for column in ("vendor", "method", "status"):
            if filters.get(column) is not None:
                sql, args = sql + f" AND {column} = ?", args + [filters[column]]
        if filters.get("path"):
            sql, args = sql + " AND path LIKE ?", args + [filters["path"].replace("*", "%")]
        rows = self._conn().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [dict(r, headers=json.loads(r["headers"])) for r in reversed(rows)]

    def clear_journal(self) -> None:
        self._conn().execute("DELETE FROM journal")

    # --- reset -------------------------------------------------------------------------------
    def reset(self, keep: Iterable[str] = ()) -> None:
        """Drop jobs, counters and journal, and every key but those in `keep`."""
        keep = list(keep)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM jobs")
            conn.execute("DELETE FROM counters")
            conn.execute("DELETE FROM journal")
            conn.execute(f"DELETE FROM kv WHERE key NOT IN ({', '.join('?' * len(keep))})", keep)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _job(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    job["request"] = json.loads(job["request"])
    job["meta"] = json.loads(job["meta"])
    return job
