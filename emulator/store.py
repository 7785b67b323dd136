"""State shared by every worker process: SQLite in WAL mode in the state directory.

emulator.db holds export jobs, counters (fault rules, rate limits), the clock offset and the active
scenario, each row under the session it belongs to (emulator.sessions: "" is the default session), and the
table of named sessions; journal.db, a file of its own, the request journal, so that recording a request never
invalidates the other workers' caches of the shared state. Each process and thread opens its own
connections; nothing lives in module globals.

Each connection keeps a cache of the key/value table, the sessions and the job rows it read, valid while the
state's change mark stays the same: 8 bytes in emulator.db.changes, mapped into every process, which each
write to those tables sets to new random bytes after it commits (a random mark, not a count: two writers at
once cannot leave it at a value a reader has seen). Reading it costs no system call. So a worker reads the
shared state anew only after a write, and a request answered after a write (by any worker) sees it.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import json
import logging
import mmap
import os
import select
import sqlite3
import struct
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

from .sessions import current_name

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    session TEXT NOT NULL DEFAULT '', key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (session, key));
CREATE TABLE IF NOT EXISTS counters (
    session TEXT NOT NULL DEFAULT '', key TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (session, key));
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY, seed INTEGER, created_at REAL NOT NULL, last_used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    session TEXT NOT NULL DEFAULT '',
    vendor TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at REAL NOT NULL,
    ready_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_session ON jobs (session, vendor, kind);
"""

_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,  -- not AUTOINCREMENT: ids restart after a clear, order holds
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
    worker INTEGER NOT NULL,
    session TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS journal_session ON journal (session, id);
"""

# A state directory written before sessions existed: its tables gain the session column (its rows are the
# default session's).
_KEYED_TABLES = {"kv": "key TEXT PRIMARY KEY, value TEXT NOT NULL",
                 "counters": "key TEXT PRIMARY KEY, value INTEGER NOT NULL"}

JOB_COLUMNS = ("id", "session", "vendor", "kind", "request", "created_at", "ready_at", "expires_at", "outcome", "meta")


BUSY_TIMEOUT_S = 10.0
# A journal write waits this long for another process's lock, then the entry is given up (best effort).
JOURNAL_BUSY_TIMEOUT_S = 2.0
# Entries are written in batches, so that a request commits nothing and wakes no other thread: the request
# whose entry fills a batch (JOURNAL_BATCH) writes it (handing it to a thread costs more CPU, with the GIL to
# share). Each process's journal thread writes what is left: at once when a reader asks (through the process's
# FIFO, journal.pending.*.fifo), else after JOURNAL_MAX_WAIT_S.
# A reader (settle_journal) asks every process with entries waiting (its journal.pending.* file counts them),
# then waits until none has any (JOURNAL_SETTLE_MAX_S at most).
JOURNAL_BATCH = 256
JOURNAL_MAX_WAIT_S = 1.0
JOURNAL_SETTLE_MAX_S = 2.0
# Where no FIFO can be made (a file system without them), the thread looks this often while entries wait.
JOURNAL_POLL_S = 0.002
# A journal thread with nothing to write for this long leaves; the next entry starts another. So an app that is
# no longer used (one per test, in-process) holds no thread, and its store and connections can be freed.
JOURNAL_WRITER_IDLE_S = 5.0
# How often a writer looks whether journal.db was replaced (clear_journal on a full disk); readers always do.
JOURNAL_FILE_CHECK_S = 1.0

log = logging.getLogger("emulator")


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


class _Cache:
    """One connection's view of the shared state: the key/value table whole, and the jobs and sessions read,
    as of `version` (the change mark)."""

    __slots__ = ("jobs", "kv", "sessions", "version")

    def __init__(self) -> None:
        self.version: bytes | None = None
        self.kv: dict[str, dict[str, Any]] = {}  # session -> its keys, read when first asked for
        self.jobs: dict[tuple[str, str], dict[str, Any] | None] = {}  # (session, id) -> job, decoded
        self.sessions: dict[str, sqlite3.Row | None] = {}  # name -> row of the sessions table


class Store:
    """A small typed facade over the state directory's SQLite files. Safe across processes (WAL) and threads.

    Two choices keep a request's few statements in microseconds while two workers write at once:
    - SQLite's own busy handler sleeps 1 ms, then longer, when another process holds the write lock for
      some 20 us; `_run` retries after 20 us instead (up to BUSY_TIMEOUT_S).
    - synchronous=OFF: no fsync at WAL checkpoints. The state lives as long as the emulator; an OS crash
      may lose it, a crash of the emulator cannot.
    """

    def __init__(self, path: str):
        self.path = path
        self.journal_path = os.path.join(os.path.dirname(path) or ".", "journal.db")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._local = threading.local()
        self.journal_failures = 0  # journal entries given up in this process (see append_journal)
        self._pending: list[list[Any]] = []  # this process's entries not written yet
        self._pending_lock = threading.Lock()
        # Held for a whole flush: a flush (a reader's settle) that finds nothing waiting still waits for the one
        # under way, whose entries were taken from the buffer but are not written yet.
        self._flush_lock = threading.Lock()
        self._pending_pid: int | None = None
        self._journal_limit = 10_000
        self._changes = _shared_bytes(path + ".changes", 8)
        self._run(self._migrate)
        self._run(lambda conn: conn.executescript(_SCHEMA))
        self._run(self._migrate_journal, self._journal_conn)
        self._run(lambda conn: conn.executescript(_JOURNAL_SCHEMA), self._journal_conn)

    @staticmethod
    def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Tables of a state directory from before sessions: their rows become the default session's."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in _KEYED_TABLES:
                columns = self._columns(conn, table)
                if columns and "session" not in columns:
                    conn.execute(f"ALTER TABLE {table} RENAME TO {table}_before_sessions")
                    conn.executescript(_SCHEMA.replace("CREATE INDEX", "--"))  # executescript commits
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(f"INSERT INTO {table} (session, key, value) "
                                 f"SELECT '', key, value FROM {table}_before_sessions")
                    conn.execute(f"DROP TABLE {table}_before_sessions")
            columns = self._columns(conn, "jobs")
            if columns and "session" not in columns:
                conn.execute("ALTER TABLE jobs ADD COLUMN session TEXT NOT NULL DEFAULT ''")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _migrate_journal(self, conn: sqlite3.Connection) -> None:
        columns = self._columns(conn, "journal")
        if columns and "session" not in columns:
            conn.execute("ALTER TABLE journal ADD COLUMN session TEXT NOT NULL DEFAULT ''")

    def _open(self, path: str) -> sqlite3.Connection:
        conn = _connect(path)
        conn.execute("PRAGMA synchronous=OFF")
        for _ in range(int(BUSY_TIMEOUT_S / 0.001)):  # switching to WAL needs a moment without writers
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                time.sleep(0.001)
        return conn

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.forks != _forks[0]:  # a connection is never used across a fork
            local.conn, local.forks, local.cache = self._open(self.path), _forks[0], _Cache()
            local.journal = None
            conn = local.conn
        return conn

    def _journal_conn(self, check: bool = True) -> sqlite3.Connection:
        """This thread's connection to journal.db, opened anew if the file was replaced (clear_journal); with
        check=False the file is looked at once a JOURNAL_FILE_CHECK_S at most."""
        self._conn()
        local = self._local
        now = time.monotonic()
        if not check and local.journal is not None and now < local.journal_checked + JOURNAL_FILE_CHECK_S:
            return local.journal[0]
        local.journal_checked = now
        try:
            inode = os.stat(self.journal_path).st_ino
        except FileNotFoundError:
            inode = None
        if local.journal is None or local.journal[1] != inode:
            if local.journal is not None:
                local.journal[0].close()
            conn = self._open(self.journal_path)
            if inode is None:
                conn.executescript(_JOURNAL_SCHEMA)
            local.journal = (conn, os.stat(self.journal_path).st_ino)
        return local.journal[0]

    def _run(self, work, connection=None, timeout: float | None = None):
        """work(connection), retried while another process holds the lock it needs."""
        connection = connection or self._conn
        deadline = time.monotonic() + (BUSY_TIMEOUT_S if timeout is None else timeout)
        pause = 0.00002
        while True:
            try:
                return work(connection())
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

    # --- the cache of shared state -------------------------------------------------------------
    def _cache(self) -> _Cache:
        """This connection's cache, read anew if the state changed since it was filled (during a request: as
        of the request's start, see begin_request)."""
        local = self._local
        if getattr(local, "in_request", False):  # begin_request opened the connection and its cache
            return local.cache
        self._conn()
        cache = local.cache
        version = self._changes[:8]
        if version != cache.version:
            cache = self._local.cache = _Cache()
            cache.version = version
        return cache

    def _changed(self) -> None:
        """Mark the state changed (after a write to kv, jobs or sessions has committed): every cache, this
        connection's too, is read anew at its next check. Counters are never cached: their writes need not."""
        self._changes[:8] = os.urandom(8)

    def _kv(self, session: str) -> dict[str, Any]:
        """The cached keys of one session."""
        cache = self._cache()
        kv = cache.kv.get(session)
        if kv is None:
            # Read after the version: a commit in between makes the next check read again.
            rows = self._all("SELECT key, value FROM kv WHERE session = ?", (session,))
            kv = cache.kv[session] = {row[0]: json.loads(row[1]) for row in rows}
        return kv

    def _own_write(self, session: str) -> dict[str, Any] | None:
        """The cached keys of `session` to update after this connection's own write (None: not read yet)."""
        return self._local.cache.kv.get(session)

    # --- key/value ---------------------------------------------------------------------------
    def begin_request(self) -> None:
        """From here to end_request the shared state is checked once, at the start: a request sees one state
        of it (a clock offset and a scenario), and its own writes. A value got is shared: never change it in
        place."""
        self._local.in_request = False
        self._cache()
        self._local.in_request = True

    def end_request(self) -> None:
        self._local.in_request = False

    def get(self, key: str, default: Any = None) -> Any:
        return self._kv(current_name()).get(key, default)

    def put(self, key: str, value: Any) -> None:
        text, session = json.dumps(value), current_name()
        self._do(
            "INSERT INTO kv (session, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT(session, key) DO UPDATE SET value = excluded.value",
            (session, key, text),
        )
        self._changed()
        kv = self._own_write(session)
        if kv is not None:
            kv[key] = json.loads(text)  # as stored, and not the caller's object

    def add(self, key: str, delta: float, low: float, high: float) -> float | None:
        """Add `delta` to a number kept under `key` (missing: 0) in one statement, so that concurrent adds are
        never lost; the sum must lie in [low, high], else nothing changes and the answer is None."""
        session = current_name()
        row = self._one(
            "INSERT INTO kv (session, key, value) SELECT ?5, ?1, ?2 "
            "WHERE ?2 BETWEEN ?3 AND ?4 OR EXISTS (SELECT 1 FROM kv WHERE session = ?5 AND key = ?1) "
            "ON CONFLICT(session, key) DO UPDATE SET value = CAST(value AS REAL) + excluded.value "
            "WHERE CAST(value AS REAL) + excluded.value BETWEEN ?3 AND ?4 RETURNING value",
            (key, float(delta), float(low), float(high), session),
        )
        if row is None:
            return None
        self._changed()
        value = float(row[0])
        kv = self._own_write(session)
        if kv is not None:
            kv[key] = value
        return value

    def delete(self, key: str) -> None:
        session = current_name()
        self._do("DELETE FROM kv WHERE session = ? AND key = ?", (session, key))
        self._changed()
        kv = self._own_write(session)
        if kv is not None:
            kv.pop(key, None)

    # --- counters ----------------------------------------------------------------------------
    def incr(self, key: str, by: int = 1) -> int:
        """Atomically add to a counter and return its new value (shared by all workers)."""
        row = self._one(
            "INSERT INTO counters (session, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT(session, key) DO UPDATE SET value = value + excluded.value RETURNING value",
            (current_name(), key, by),
        )
        return int(row[0])

    def counter(self, key: str) -> int:
        row = self._one("SELECT value FROM counters WHERE session = ? AND key = ?", (current_name(), key))
        return int(row[0]) if row else 0

    def clear_counters(self, prefix: str = "") -> None:
        self._do("DELETE FROM counters WHERE session = ? AND key LIKE ?",
                 (current_name(), prefix.replace("%", r"\%") + "%"))

    # --- jobs --------------------------------------------------------------------------------
    def insert_job(self, job: dict[str, Any]) -> None:
        row = dict(job, request=json.dumps(job["request"], sort_keys=True), meta=json.dumps(job["meta"]),
                   session=current_name())
        self._do(
            f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({', '.join('?' * len(JOB_COLUMNS))})",
            tuple(row[c] for c in JOB_COLUMNS),
        )
        self._changed()
        self._local.cache.jobs.pop((row["session"], job["id"]), None)

    def update_job(self, job_id: str, **fields: Any) -> None:
        if "meta" in fields:
            fields["meta"] = json.dumps(fields["meta"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        session = current_name()
        self._do(f"UPDATE jobs SET {sets} WHERE id = ? AND session = ?", (*fields.values(), job_id, session))
        self._changed()
        self._local.cache.jobs.pop((session, job_id), None)

    def job(self, job_id: str) -> dict[str, Any] | None:
        """A job of the current session (another session's job is not found): a copy, with its own `meta` (of
        scalars); its `request` is shared with the cache (never change it in place)."""
        jobs, key = self._cache().jobs, (current_name(), job_id)
        if key in jobs:
            job = jobs[key]
        else:
            row = self._one("SELECT * FROM jobs WHERE id = ? AND session = ?", (job_id, key[0]))
            job = jobs[key] = _job(row) if row else None
        return dict(job, meta=dict(job["meta"])) if job else None

    def jobs(self, vendor: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM jobs WHERE session = ?", [current_name()]
        if vendor:
            sql, args = sql + " AND vendor = ?", args + [vendor]
        if kind:
            sql, args = sql + " AND kind = ?", args + [kind]
        return [_job(r) for r in self._all(sql + " ORDER BY created_at, id", args)]

    # --- journal -----------------------------------------------------------------------------
    JOURNAL_COLUMNS = ("at", "vendor", "method", "path", "query", "headers", "body_digest", "body_size", "status",
                       "fault")
    _INSERT_JOURNAL = (f"INSERT INTO journal ({', '.join(JOURNAL_COLUMNS)}, worker, session) "
                       f"VALUES ({', '.join('?' * (len(JOURNAL_COLUMNS) + 2))})")

    def append_journal(self, entry: dict[str, Any], limit: int) -> None:
        """Record one request (its `headers` a dict, or the JSON text the journal keeps); see
        append_journal_row."""
        row = [entry[c] for c in self.JOURNAL_COLUMNS]
        if not isinstance(row[5], str):
            row[5] = json.dumps(row[5])
        self.append_journal_row(row, limit)

    def append_journal_row(self, row: list[Any], limit: int) -> None:
        """Record one request, its values in JOURNAL_COLUMNS' order (headers as JSON text), written with the
        batch it belongs to (see JOURNAL_BATCH). Best effort: a write that fails (a full disk, a lock held too
        long) is given up and logged, never raised into a request."""
        pid = os.getpid()
        row += [pid, current_name()]
        self._journal_limit = limit
        if self._pending_pid != pid:
            self._ensure_journal_buffer(pid)
        with self._pending_lock:
            self._pending.append(row)
            waiting = len(self._pending)
            self._pending_count(waiting)
            start, self._writer_alive = not self._writer_alive, True
        if start:
            threading.Thread(target=self._journal_writer, daemon=True, name="journal-writer").start()
        if waiting >= JOURNAL_BATCH:  # written by the request that fills the batch: no thread to wake
            self.flush_journal()

    def _ensure_journal_buffer(self, pid: int) -> None:
        """This process's buffer, its count of waiting entries in a file readers look at, and the FIFO they
        ask it to write through (set up once, also when several threads record their first request at once)."""
        with self._pending_lock:
            if self._pending_pid != pid:
                self._open_journal_buffer(pid)

    def _open_journal_buffer(self, pid: int) -> None:
        self._pending = []
        self._pending_path = f"{self.journal_path}.pending.{pid}.{id(self)}"
        with open(self._pending_path, "wb") as handle:
            handle.write(bytes(8))
        self._pending_file = open(self._pending_path, "r+b")  # noqa: SIM115 (open as long as the process)
        self._pending_map = mmap.mmap(self._pending_file.fileno(), 8)
        self._asked = _open_fifo(self._pending_path + ".fifo")
        if self._asked is not None:
            weakref.finalize(self, os.close, self._asked)
        self._writer_alive = False  # started by the first entry (append_journal)
        atexit.register(_flush_at_exit, weakref.ref(self))
        self._pending_pid = pid  # last: another thread appends only once all of the above is in place

    def _pending_count(self, n: int) -> None:
        struct.pack_into("q", self._pending_map, 0, n)

    def _journal_writer(self) -> None:
        """This process's journal thread: writes what waits when a reader asks, or once it waited
        JOURNAL_MAX_WAIT_S; leaves after JOURNAL_WRITER_IDLE_S with nothing waiting."""
        asked, idle = self._asked, False
        poller = select.poll()  # not select(): a process may hold more than FD_SETSIZE (1024) descriptors
        if asked is not None:
            poller.register(asked, select.POLLIN)
        while True:
            with self._pending_lock:
                if idle and not self._pending:
                    self._writer_alive = False
                    return
                if asked is None:
                    wait = JOURNAL_POLL_S if self._pending else JOURNAL_WRITER_IDLE_S
                else:
                    wait = JOURNAL_MAX_WAIT_S if self._pending else JOURNAL_WRITER_IDLE_S
            ready = poller.poll(wait * 1000)
            if ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(asked, 4096)
            idle = not ready
            self.flush_journal()

    def flush_journal(self) -> None:
        """Write this process's waiting entries now, in one transaction."""
        if self._pending_pid != os.getpid():
            return
        with self._flush_lock:
            self._flush_journal()

    def _flush_journal(self, quiet: bool = False) -> None:
        with self._pending_lock:
            rows, self._pending = self._pending, []
        if rows:
            try:
                self._run(lambda conn: self._write_rows(conn, rows), lambda: self._journal_conn(check=False),
                          JOURNAL_BUSY_TIMEOUT_S)
            except (sqlite3.Error, OSError) as exc:
                before, self.journal_failures = self.journal_failures, self.journal_failures + len(rows)
                tenfold = before == 0 or len(str(before)) != len(str(self.journal_failures))  # 1, 10, 100, ...
                gone = not os.path.isdir(os.path.dirname(self.journal_path))  # a removed state dir: no journal
                if tenfold and not (quiet or gone):
                    log.warning("request journal: %d entries not written (%s); %d so far in this process",
                                len(rows), exc, self.journal_failures)
        with self._pending_lock:
            self._pending_count(len(self._pending))

    def _write_rows(self, conn: sqlite3.Connection, rows: list[list[Any]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._INSERT_JOURNAL, rows)
            last = conn.execute("SELECT max(id) FROM journal").fetchone()[0] or 0
            # Bounded: the newest `limit` entries (trimmed in steps of 100 to keep writes cheap).
            if last // 100 != (last - len(rows)) // 100:
                conn.execute("DELETE FROM journal WHERE id <= ?", (last - self._journal_limit,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def settle_journal(self) -> None:
        """Wait until every process has written the entries it had waiting (this one's: now), asking each
        to write them at once."""
        self.flush_journal()
        deadline = time.monotonic() + JOURNAL_SETTLE_MAX_S
        own = getattr(self, "_pending_path", None) if self._pending_pid == os.getpid() else None
        for path in glob.glob(glob.escape(self.journal_path) + ".pending.*"):
            if path == own or path.endswith(".fifo"):
                continue
            pid = int(path.rsplit(".", 2)[1])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:  # a worker that died: what it had waiting is lost
                for dead in (path, path + ".fifo"):
                    with contextlib.suppress(OSError):
                        os.unlink(dead)
                continue
            except PermissionError:
                pass
            asked_at = None
            while time.monotonic() < deadline and _waiting(path):
                if asked_at is None or time.monotonic() - asked_at > 0.1:  # again, in case its thread was leaving
                    _ask(path + ".fifo")
                    asked_at = time.monotonic()
                time.sleep(0.0005)

    def journal(self, filters: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        self.settle_journal()
        sql, args = "SELECT * FROM journal WHERE session = ?", [current_name()]
        for column in ("vendor", "method", "status"):
            if filters.get(column) is not None:
                sql, args = sql + f" AND {column} = ?", args + [filters[column]]
        if filters.get("path"):
            sql, args = sql + " AND path LIKE ?", args + [filters["path"].replace("*", "%")]
        rows = self._run(lambda conn: conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall(),
                         self._journal_conn)
        return [dict(r, headers=json.loads(r["headers"])) for r in reversed(rows)]

    def clear_journal(self, session: str | None = None) -> None:
        """Empty the journal of a session (default: the current one); if SQLite cannot (a full disk: even a
        delete writes to the WAL), the file is replaced by an empty one, which every worker opens at its next
        journal write (every session's journal is then empty)."""
        self.settle_journal()
        try:
            self._delete_journal_rows(current_name() if session is None else session)
        except sqlite3.Error as exc:
            log.warning("request journal: clearing by replacing the file (%s)", exc)
            self._replace_journal_file()

    def _delete_journal_rows(self, session: str) -> None:
        self._run(lambda conn: conn.execute("DELETE FROM journal WHERE session = ?", (session,)),
                  self._journal_conn)

    def _replace_journal_file(self) -> None:
        if self._local.journal is not None:
            self._local.journal[0].close()
            self._local.journal = None
        for suffix in ("-wal", "-shm", ""):
            try:
                os.unlink(self.journal_path + suffix)
            except FileNotFoundError:
                pass
        self._journal_conn()

    # --- reset -------------------------------------------------------------------------------
    def _transaction(self, statements: Iterable[tuple[str, Any]]) -> None:
        conn = self._conn()
        self._do("BEGIN IMMEDIATE")
        try:
            for sql, args in statements:
                conn.execute(sql, args)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            self._changed()

    def reset(self, keep: Iterable[str] = ()) -> None:
        """Drop the current session's jobs, counters and journal, and every key of it but those in `keep`."""
        keep, session = list(keep), current_name()
        self._transaction([
            ("DELETE FROM jobs WHERE session = ?", (session,)),
            ("DELETE FROM counters WHERE session = ?", (session,)),
            (f"DELETE FROM kv WHERE session = ? AND key NOT IN ({', '.join('?' * len(keep))})", (session, *keep)),
        ])
        self._forget(session)
        self.clear_journal(session)

    def _forget(self, session: str) -> None:
        cache = self._local.cache
        cache.kv.pop(session, None)
        cache.sessions.pop(session, None)
        for key in [key for key in cache.jobs if key[0] == session]:
            del cache.jobs[key]

    # --- named sessions (emulator.sessions) -------------------------------------------------------
    def session_row(self, name: str) -> sqlite3.Row | None:
        sessions = self._cache().sessions
        if name not in sessions:
            sessions[name] = self._one("SELECT * FROM sessions WHERE name = ?", (name,))
        return sessions[name]

    def create_session(self, name: str, seed: int | None, now: float, limit: int,
                       keys: dict[str, Any]) -> bool | None:
        """Register a session with its first keys, in one transaction: True if created, False if it exists,
        None if `limit` sessions exist already."""
        conn = self._conn()
        self._do("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone():
                conn.execute("COMMIT")
                return False
            if conn.execute("SELECT count(*) FROM sessions").fetchone()[0] >= limit:
                conn.execute("COMMIT")
                return None
            conn.execute("INSERT INTO sessions (name, seed, created_at, last_used) VALUES (?, ?, ?, ?)",
                         (name, seed, now, now))
            conn.executemany("INSERT OR REPLACE INTO kv (session, key, value) VALUES (?, ?, ?)",
                             [(name, key, json.dumps(value)) for key, value in keys.items()])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._changed()
        self._forget(name)
        return True

    def touch_session(self, name: str, now: float) -> None:
        self._do("UPDATE sessions SET last_used = ? WHERE name = ?", (now, name))
        self._changed()
        self._local.cache.sessions.pop(name, None)

    def sessions(self) -> list[dict[str, Any]]:
        """Every named session with its seed, times, clock offset, scenario and job count."""
        rows = self._all(
            "SELECT s.*, (SELECT count(*) FROM jobs j WHERE j.session = s.name) AS jobs, "
            "(SELECT value FROM kv WHERE kv.session = s.name AND key = 'clock_offset') AS clock_offset, "
            "(SELECT value FROM kv WHERE kv.session = s.name AND key = 'scenario') AS scenario "
            "FROM sessions s ORDER BY s.name")
        return [dict(r) for r in rows]

    def idle_sessions(self, before: float) -> list[str]:
        return [r[0] for r in self._all("SELECT name FROM sessions WHERE last_used < ?", (before,))]

    def drop_session(self, name: str) -> bool:
        """Remove a named session and all it holds; False if there was none."""
        existed = self.session_row(name) is not None
        self._transaction([(f"DELETE FROM {table} WHERE {column} = ?", (name,)) for table, column in
                           (("sessions", "name"), ("kv", "session"), ("counters", "session"),
                            ("jobs", "session"))])
        self._forget(name)
        self.clear_journal(name)
        return existed


# Forks of this process so far, as seen in it: a connection opened before a fork is never used after it.
_forks = [0]
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


def _shared_bytes(path: str, size: int) -> mmap.mmap:
    """`size` bytes of the file at `path` (made, zeroed, if missing), mapped shared into this process."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def _open_fifo(path: str) -> int | None:
    """A FIFO for readers to ask this process to write its journal entries, open for reading without blocking
    (and for writing, so that it never reads as closed); None where the file system has none."""
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.mkfifo(path, 0o600)
        return os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None


def _ask(fifo: str) -> None:
    """Ask the process reading `fifo` to write its journal entries now (nothing if it has no such FIFO)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # none (no FIFO on this file system: its thread looks by itself), or nobody reading
        return
    try:
        os.write(fd, b"w")
    except BlockingIOError:  # full of earlier asks, which will do
        pass
    finally:
        os.close(fd)


def _waiting(path: str) -> bool:
    """Whether the process of a journal.pending.* file has entries not written yet."""
    try:
        with open(path, "rb") as handle:
            return struct.unpack("q", handle.read(8).ljust(8, b"\0"))[0] != 0
    except OSError:
        return False


def _flush_at_exit(ref: weakref.ref) -> None:
    store = ref()
    if store is not None and store._pending_pid == os.getpid():
        with store._flush_lock:
            store._flush_journal(quiet=True)


def _job(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    del job["session"]
    job["request"] = json.loads(job["request"])
    job["meta"] = json.loads(job["meta"])
    return job
