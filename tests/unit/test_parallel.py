"""emulator.parallel: big exports rendered by forked processes, written out in order (issue 7: "exports
stream (flat memory at any size)", "never a 500 ... nothing the emulator holds is lost or corrupted")."""

from __future__ import annotations

import os
import time

import pytest

from emulator import parallel
from emulator.parallel import ExportProcessError, render_blocks, worth_forking


def _render(block: tuple[int, int]) -> list[bytes]:
    """Block (n, size): `size` bytes in chunks of at most 100 kB, each byte telling the block apart."""
    n, size = block
    piece = bytes([65 + n % 26])
    return [piece * min(100_000, size - at) for at in range(0, size, 100_000)]


# Quiet hours and busy ones, empty blocks, and blocks larger than a pipe and than a child's outbox.
BLOCKS = [(n, size) for n, size in enumerate([3, 0, 250_000, 12, 2_500_000, 0, 40, 9_500_000, 7, 1_200_000, 1])]


@pytest.fixture
def forks(monkeypatch):
    """The pids of the processes render_blocks forks."""
    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.fixture
def no_retirement(monkeypatch):
    """Children never leave for their memory: tests that count forks. A child's private memory also grows
    when this process writes pages they still share (copy on write), which the threads of a long test run
    do; retirement has tests of its own below."""
    monkeypatch.setattr(parallel, "RETIRE_PRIVATE_MB", float("inf"))


@pytest.mark.parametrize("processes", [2, 3])
def test_forked_rendering_gives_the_bytes_of_rendering_in_order(forks, no_retirement, processes):
    expected = b"".join(b"".join(_render(block)) for block in BLOCKS)
    pieces = list(render_blocks(BLOCKS, _render, processes))
    assert b"".join(pieces) == expected
    assert len(forks) == processes
    assert all(_reaped(pid) for pid in forks), "a rendering process was left behind"


def test_this_process_never_holds_a_block_whole(forks):
    pieces = list(render_blocks(BLOCKS, _render, 2))
    assert max(map(len, pieces)) <= parallel.READ_BYTES < 9_500_000


def test_one_process_renders_in_process_without_forking(forks):
    assert b"".join(render_blocks(BLOCKS, _render, 1)) == b"".join(b"".join(_render(b)) for b in BLOCKS)
    assert forks == []


def test_a_failing_block_raises_in_the_parent_with_the_childs_traceback(forks):
    def render(block):
        if block[0] == 6:
            raise ValueError("no such recipient 6")
        return _render(block)

    stream = render_blocks(BLOCKS, render, 2)
    received = b""
    with pytest.raises(ExportProcessError, match="ValueError: no such recipient 6"):
        for piece in stream:
            received += piece
    assert received == b"".join(b"".join(_render(b)) for b in BLOCKS[:6])  # what came before, intact
    assert all(_reaped(pid) for pid in forks)


def test_closing_the_stream_early_stops_and_reaps_the_processes(forks, no_retirement):
    def slow(block):
        time.sleep(0.05)  # a child still busy when the client goes away
        return _render(block)

    stream = render_blocks(BLOCKS * 10, slow, 2)
    next(stream)
    started = time.monotonic()
    stream.close()  # what a WSGI server does when the client disconnects
    assert time.monotonic() - started < 2
    assert len(forks) == 2 and all(_reaped(pid) for pid in forks)


def test_only_big_exports_are_worth_a_fork():
    assert worth_forking(2, parallel.MIN_WORK, 24)
    assert not worth_forking(2, parallel.MIN_WORK - 1, 24)  # a day at scale 1: in-process, its shards cached
    assert not worth_forking(1, 10**9, 24)  # EMULATOR_EXPORT_PROCESSES=1
    assert not worth_forking(4, 10**9, 1)  # one block: nothing to share


def test_children_retire_and_fresh_ones_take_over_without_changing_a_byte(forks, monkeypatch):
    monkeypatch.setattr(parallel, "RETIRE_PRIVATE_MB", -1)  # every child leaves after one block
    monkeypatch.setattr(parallel, "CHECK_SECONDS", 0)
    blocks = [(n, (n * 7919) % 300_000) for n in range(40)]
    expected = b"".join(b"".join(_render(block)) for block in blocks)
    assert b"".join(render_blocks(blocks, _render, 2)) == expected
    assert len(forks) >= 30
    assert all(_reaped(pid) for pid in forks)


_HELD: list[bytearray] = []  # what a rendering process keeps: its private memory grows block by block


def _render_and_hold(block: tuple[int, int]) -> list[bytes]:
    _HELD.append(bytearray(8 << 20))  # 8 MB written: pages of this process's own
    return _render(block)


def test_a_child_whose_memory_grows_past_the_limit_leaves_and_a_fresh_one_takes_over(forks, monkeypatch):
    # Flat memory at any size (issue 7): a child holding 8 MB more per block passes 20 MB after its third,
    # told by its page faults, well within the half second after which it would read /proc anyway.
    monkeypatch.setattr(parallel, "RETIRE_PRIVATE_MB", 20.0)
    blocks = [(n, 1000) for n in range(12)]
    expected = b"".join(b"".join(_render(block)) for block in blocks)
    assert b"".join(render_blocks(blocks, _render_and_hold, 2)) == expected
    assert len(forks) >= 4  # 12 blocks at most 3 a child
    assert all(_reaped(pid) for pid in forks)
    assert _HELD == []  # nothing of it in this process


def test_a_process_that_dies_without_a_word_fails_the_export_instead_of_hanging(forks):
    def render(block):
        if block[0] == 4:
            os._exit(9)  # killed, say by the kernel's OOM killer
        return _render(block)

    with pytest.raises(ExportProcessError, match="died"):
        b"".join(render_blocks(BLOCKS, render, 2))
    assert all(_reaped(pid) for pid in forks)


def test_pipes_numbered_past_1024_are_read(forks):
    """A serving process with many open files (connections, state files) gets pipe numbers of 1024 and up,
    which select() refuses ("filedescriptor out of range"): the export must still be rendered, whole."""
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"the open-file limit ({soft}) is too low to reach descriptor 1024")
    held = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        expected = b"".join(b"".join(_render(block)) for block in BLOCKS)
        assert b"".join(render_blocks(BLOCKS, _render, 2)) == expected
    finally:
        for fd in held:
            os.close(fd)
