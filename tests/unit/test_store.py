"""The shared store under concurrent workers: writes wait for another process's lock instead of failing,
and a request reads each key once (one consistent clock and scenario per request)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from emulator import store as store_module
from emulator.store import Store


def _hold_write_lock(path: str, seconds: float) -> threading.Thread:
    """Another worker in the middle of a write transaction, for `seconds`."""
    locked = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO kv (key, value) VALUES ('other', '1')")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait()
    return thread


def test_write_waits_while_another_worker_holds_the_lock(tmp_path):
    store = Store(str(tmp_path / "emulator.db"))
    holder = _hold_write_lock(store.path, 0.2)
    t0 = time.monotonic()
    store.put("clock_offset", 5.0)
    store.append_journal({"at": 1.0, "vendor": "apsis", "method": "GET", "path": "/x", "query": "", "headers": {},
                          "body_digest": "", "body_size": 0, "status": 200, "fault": None}, 100)
    holder.join()
    assert time.monotonic() - t0 >= 0.15  # it waited for the other transaction, then wrote
    assert store.get("clock_offset") == 5.0 and store.get("other") == 1
    assert [e["path"] for e in store.journal({}, 10)] == ["/x"]


def test_a_lock_held_past_the_busy_timeout_fails_instead_of_hanging(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    store = Store(str(tmp_path / "emulator.db"))
    holder = _hold_write_lock(store.path, 0.5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store.put("clock_offset", 5.0)
    holder.join()


def test_a_request_sees_one_state_and_its_own_writes(tmp_path):
    path = str(tmp_path / "emulator.db")
    worker, other_worker = Store(path), Store(path)
    worker.put("clock_offset", 1.0)
    worker.begin_request()
    assert worker.get("clock_offset") == 1.0
    other_worker.put("clock_offset", 2.0)
    assert worker.get("clock_offset") == 1.0  # read once per request
    worker.put("scenario", {"names": ["flaky"]})
    assert worker.get("scenario") == {"names": ["flaky"]}  # its own write is seen at once
    worker.delete("scenario")
    assert worker.get("scenario", "none") == "none"
    worker.end_request()
    assert worker.get("clock_offset") == 2.0  # the next request reads anew


def test_a_reset_within_a_request_is_seen_by_it(tmp_path):
    store = Store(str(tmp_path / "emulator.db"))
    store.put("clock_offset", 1.0)
    store.put("scenario", {"names": ["flaky"]})
    store.begin_request()
    store.reset(keep=["clock_offset"])
    assert store.get("clock_offset") == 1.0 and store.get("scenario") is None
    store.end_request()
    assert store.get("clock_offset") == 1.0 and store.get("scenario") is None


def _job_row(job_id: str) -> dict:
    return {"id": job_id, "vendor": "apsis", "kind": "email-events", "request": {"a": 1}, "created_at": 1.0,
            "ready_at": 2.0, "expires_at": 3.0, "outcome": "ok", "meta": {"n": 1}}


def test_cached_state_and_job_rows_are_never_stale_across_workers(tmp_path):
    """Each worker caches the shared state and the job rows it read; a write by another worker (another
    connection) is seen at that worker's next read, its own writes at once."""
    path = str(tmp_path / "emulator.db")
    worker, other_worker = Store(path), Store(path)
    assert worker.job("j1") is None and worker.get("clock_offset") is None  # both cached now
    other_worker.insert_job(_job_row("j1"))
    other_worker.put("clock_offset", 7.0)
    assert worker.job("j1")["meta"] == {"n": 1} and worker.get("clock_offset") == 7.0
    other_worker.update_job("j1", meta={"n": 2}, expires_at=9.0)
    job = worker.job("j1")
    assert job["meta"] == {"n": 2} and job["expires_at"] == 9.0
    job["meta"]["n"] = 99  # a caller's change to its copy is not the cache's
    assert worker.job("j1")["meta"] == {"n": 2}
    worker.update_job("j1", meta={"n": 3})
    assert worker.job("j1")["meta"] == {"n": 3} and other_worker.job("j1")["meta"] == {"n": 3}
    other_worker.reset()
    assert worker.job("j1") is None and worker.get("clock_offset") is None
