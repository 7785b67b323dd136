"""The request journal: credentials masked by a rule, bounded in bytes, and best effort (a journal write that
fails never fails the request it records, and the journal can still be cleared)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from emulator import store as store_module
from emulator.core import JOURNAL_HEADERS_MAX, JOURNAL_TEXT_MAX, JOURNAL_VALUE_MAX, is_credential
from emulator.settings import DEFAULT_EXPERTSENDER_API_KEY, DEFAULT_NETCORE_API_KEY
from emulator.store import Store

NETCORE = {"api_key": DEFAULT_NETCORE_API_KEY}
LISTS = f"/expertsender/v2/Api/Lists?apiKey={DEFAULT_EXPERTSENDER_API_KEY}"  # a 200 that needs no date
ENTRY = {"at": 1.0, "vendor": "apsis", "method": "GET", "path": "/x", "query": "", "headers": {},
         "body_digest": "", "body_size": 0, "status": 200, "fault": None}  # one request, as the store records it


@pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization", "X-Api-Key", "api_key", "apiKey",
                                  "APIKEY", "X-Apsis-Auth", "X-Emulator-Token", "Cookie", "password", "pass",
                                  "passwd", "client_secret", "access_token", "refreshToken", "signature",
                                  "X-Session-Id", "X-Auth-Token", "private_key", "Credentials"])
def test_credential_looking_names_are_masked(name):
    assert is_credential(name)


@pytest.mark.parametrize("name", ["Content-Type", "Accept", "Host", "User-Agent", "X-Emulator-Scenario", "type",
                                  "date", "startdate", "scrollId", "limit", "Content-Length", "email"])
def test_ordinary_names_are_kept(name):
    assert not is_credential(name)


def test_journal_masks_credential_headers_and_parameters(client):
    client.get("/netcore/v5.1/events?startdate=2026-05-30&enddate=2026-05-30&password=hunter2hunter2&pass=abc",
               headers={**NETCORE, "X-Api-Key": "key-in-clear-1234", "Proxy-Authorization": "Basic c2VjcmV0OnM=",
                        "X-Trace": "kept-in-clear"})
    entry = client.get("/_emulator/journal").get_json()["items"][-1]
    text = str(entry)
    for secret in ("hunter2hunter2", "key-in-clear-1234", "c2VjcmV0OnM=", DEFAULT_NETCORE_API_KEY, "pass=abc"):
        assert secret not in text
    assert entry["headers"]["X-Trace"] == "kept-in-clear" and "startdate=2026-05-30" in entry["query"]


def test_journal_entry_is_bounded_in_bytes(client):
    """90 headers of 8 kB each and a 10 kB query value: the entry keeps a few kilobytes, and says what it cut."""
    headers = {f"X-Big-{i}": "v" * 8000 for i in range(90)}
    response = client.get("/netcore/v5.1/events?startdate=2026-05-30&note=" + "q" * 10_000,
                          headers={**NETCORE, **headers})
    assert response.status_code == 400  # enddate missing: answered as usual
    entry = client.get("/_emulator/journal").get_json()["items"][-1]
    assert entry["status"] == 400
    recorded = sum(len(k) + len(v) for k, v in entry["headers"].items())
    assert recorded <= JOURNAL_HEADERS_MAX + 100
    assert "more header(s) not recorded" in entry["headers"]["…"]
    big = [v for k, v in entry["headers"].items() if k.startswith("X-Big-")]
    assert big and all(v.startswith("v" * JOURNAL_VALUE_MAX + "…(+") for v in big)
    assert len(entry["query"]) <= JOURNAL_TEXT_MAX + 30 and "startdate=2026-05-30" in entry["query"]


def test_full_journal_disk_never_fails_a_request_and_the_journal_can_be_cleared(client, core, monkeypatch):
    """A full disk: every journal write fails as SQLite fails then, the requests are answered all the same, and
    clearing the journal (which replaces the file when even a delete cannot be written) makes room again."""
    full = [True]
    write_rows, delete_rows, replace_file = Store._write_rows, Store._delete_journal_rows, Store._replace_journal_file

    def disk(method):
        def call(self, *args):
            if full[0]:
                raise sqlite3.OperationalError("database or disk is full")
            return method(self, *args)
        return call

    def replace(self) -> None:
        full[0] = False  # the old file is gone: there is room again
        replace_file(self)

    monkeypatch.setattr(Store, "_write_rows", disk(write_rows))
    monkeypatch.setattr(Store, "_delete_journal_rows", disk(delete_rows))
    monkeypatch.setattr(Store, "_replace_journal_file", replace)
    monkeypatch.setattr(store_module, "JOURNAL_BATCH", 1)
    padding = {f"X-Pad-{i}": "p" * 200 for i in range(15)}
    statuses = [client.get(LISTS, headers=padding).status_code for _ in range(40)]
    assert statuses == [200] * 40
    core.store.settle_journal()
    assert core.store.journal_failures == 40  # every entry was given up
    assert client.delete("/_emulator/journal").status_code == 200
    assert client.get("/_emulator/journal").get_json()["count"] == 0
    client.get(LISTS)
    assert [e["status"] for e in client.get("/_emulator/journal").get_json()["items"]] == [200]


def test_locked_journal_never_fails_a_request(client, core, monkeypatch):
    monkeypatch.setattr(store_module, "JOURNAL_BUSY_TIMEOUT_S", 0.05)
    core.store._journal_conn()
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another process in a long write transaction on the journal
        conn = sqlite3.connect(core.store.journal_path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        response = client.get(LISTS)
        core.store.settle_journal()  # written (or given up) while the lock is held
    finally:
        release.set()
        holder.join()
    assert response.status_code == 200 and core.store.journal_failures == 1


def test_clearing_replaces_a_journal_file_that_cannot_be_written(tmp_path, monkeypatch):
    """Where even a delete fails (a full disk: it writes to the WAL), the file is replaced by an empty one,
    and another worker writes its next entries to the new file."""
    path = str(tmp_path / "emulator.db")
    worker, other = Store(path), Store(path)
    other.append_journal(ENTRY, 100)
    worker.append_journal(ENTRY, 100)
    assert len(worker.journal({}, 10)) == 2

    def full(_self, _session) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "_delete_journal_rows", full)
    monkeypatch.setattr(store_module, "JOURNAL_FILE_CHECK_S", 0.0)  # the other worker looks at every write
    worker.clear_journal()
    assert worker.journal({}, 10) == []
    other.append_journal(dict(ENTRY, path="/after"), 100)
    assert [e["path"] for e in worker.journal({}, 10)] == ["/after"]


def test_journal_writes_leave_the_other_workers_state_cache_valid(tmp_path):
    """The journal lives in a file of its own: recording requests does not make every other worker read the
    shared state again."""
    path = str(tmp_path / "emulator.db")
    worker, other = Store(path), Store(path)
    other.put("scenario", {"names": ["default"]})
    assert worker.get("scenario") == {"names": ["default"]}
    cache = worker._local.cache
    for _ in range(5):
        other.append_journal(ENTRY, 100)
    worker.get("scenario")
    assert worker._local.cache is cache
    other.put("scenario", {"names": ["flaky"]})
    assert worker.get("scenario") == {"names": ["flaky"]} and worker._local.cache is not cache



def test_an_idle_journal_writer_leaves_and_the_next_entry_starts_another(client, core, monkeypatch):
    """An app no longer used holds no thread (so its store and files can be freed); a later request is still
    journaled."""
    monkeypatch.setattr(store_module, "JOURNAL_WRITER_IDLE_S", 0.05)
    client.get(LISTS)
    deadline = time.monotonic() + 5
    while core.store._writer_alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not core.store._writer_alive
    client.get(LISTS)
    assert [e["status"] for e in client.get("/_emulator/journal").get_json()["items"]] == [200, 200]


_OTHER_WORKER = """
import sys
from emulator import store
store.JOURNAL_MAX_WAIT_S = 600  # only a reader's ask can make it write before the test ends
s = store.Store(sys.argv[1])
for i in range(3):
    s.append_journal({"at": 1.0, "vendor": "apsis", "method": "GET", "path": f"/{i}", "query": "", "headers": {},
                      "body_digest": "", "body_size": 0, "status": 200, "fault": None}, 100)
print("recorded", flush=True)
sys.stdin.read()
"""


def test_a_reader_gets_the_entries_another_worker_has_not_written_yet(tmp_path):
    """Workers write their entries in batches; a journal read asks every worker with entries waiting to write
    them at once, so it sees every request answered before it, whichever worker answered it."""
    path = str(tmp_path / "emulator.db")
    reader = Store(path)
    worker = subprocess.Popen([sys.executable, "-c", _OTHER_WORKER, path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "recorded"
        assert [e["path"] for e in reader.journal({}, 10)] == ["/0", "/1", "/2"]
    finally:
        worker.stdin.close()
        worker.wait(10)


def test_without_a_fifo_a_worker_still_writes_its_entries_for_a_reader(tmp_path, monkeypatch):
    """On a file system without FIFOs nobody can ask a worker to write: its journal thread then looks every
    few milliseconds while entries wait, so a read still sees them."""
    monkeypatch.setattr(store_module, "_open_fifo", lambda _path: None)
    monkeypatch.setattr(store_module, "JOURNAL_MAX_WAIT_S", 600)  # the FIFO's wait does not apply
    path = str(tmp_path / "emulator.db")
    worker, reader = Store(path), Store(path)
    worker.append_journal(ENTRY, 100)
    assert [e["path"] for e in reader.journal({}, 10)] == ["/x"]
