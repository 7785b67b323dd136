"""Large exports rendered on several cores: the export is cut into blocks (hours of its window, or ranges
of recipients) that forked processes render side by side while this process writes them out in order.

Each block's bytes are a pure function of the block (the world is a function of its seed; caches change
speed, never text), so the output is byte for byte what rendering the blocks one after another here gives.
The children take the next block number from a shared task pipe as soon as they are free: hours differ
twentyfold in size, and a fixed share per child left one idle a third of the time. A child's rendered
chunks go to its own pipe as frames (block, length, bytes; length 0 ends the block) through a writer
thread holding at most OUTBOX_BYTES, so a child that finished a block the parent does not want yet goes on
with the next. This process reads the blocks in order, 1 MiB at a time, and hands out one more block number
for each it has written. Memory: per child its outbox, pipe, caches and the hour at hand, and a child whose
private memory passes RETIRE_PRIVATE_MB leaves after its block for a fresh fork; here one read at a time.
None of it grows with the export.

A fork inherits the world and its caches as they are (copy on write); what a child generates dies with it.
Small exports are rendered in-process: a fork costs a few milliseconds, and a server under load (many small
requests) must not fork for each (see `worth_forking`). A child that fails sends its traceback, which is
raised here (the response ends early, as with any error while streaming); one that dies without a word
fails the export the same way, never hangs it; a client that goes away closes the pipes, and the children
exit on the broken pipe (or are killed).
"""

from __future__ import annotations

import gc
import os
import resource
import select
import signal
import struct
import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from .writers import line_stream

B = TypeVar("B")
_FRAME = struct.Struct("<qq")  # block number (-1: an error message follows) and byte count (0: block ends)
_TASK = struct.Struct("<i")  # a block number to render (4 bytes: one atomic pipe write)
_RETIRED = -2  # a child's last frame when it leaves (RETIRE_PRIVATE_MB)
READ_BYTES = 1 << 20
PIPE_BYTES = 1 << 20
OUTBOX_BYTES = 4 << 20  # rendered bytes a child may hold beyond its pipe: its memory, whatever the block size
# Blocks handed out beyond the one being written: memory does not grow with it (the outbox bounds what a
# child holds); a send hour renders far longer than a quiet one, and the other child runs through many
# quiet ones meanwhile (figures: docs/performance.md).
AHEAD = 64
# Private memory (MB: pages not shared with its parent) past which a child leaves after its block and a
# fresh one takes its place. A child's memory grows with what it has done, though not with the export: its
# caches, the heap pages its busiest hours left behind, and each page of its parent's it wrote to (a
# reference count) and so copied. The limit trades memory for speed (the memory benchmark's figures are in
# docs/performance.md). A world's hours grow with its scale, and so does this: a child's setup sets it
# (set_child_memory). Checked after each block (see _Retirement).
RETIRE_PRIVATE_MB = 20.0
CHECK_SECONDS = 0.5  # the longest between two exact readings of a child's private memory
# Below this much work (World.export_work: estimated rows plus events still to generate) an export renders
# in-process: forking costs a few milliseconds, the children's caches die with them, and a window requested
# again and again must be generated once and served from the shard cache. APSIS 20k rows (estimated 40k,
# 12 hours): forked zlib-6 ratio 0.36 cold, 0.63 warm; in-process 0.31 cold, 0.84 warm, as with 100k here.
MIN_WORK = 100_000


_forked = 0  # rendering processes this process has started
_CHILD_SETUP: list[Callable[[], None]] = []
_BEFORE_FORKING: list[Callable[[], None]] = []


def before_forking(prepare: Callable[[], None]) -> Callable[[], None]:
    """Register `prepare` to run here before the rendering processes of an export are forked (a module
    building what every one of them would otherwise build again)."""
    _BEFORE_FORKING.append(prepare)
    return prepare


def set_child_memory(mb: float) -> None:
    """In a rendering process: the private memory past which it leaves after its block."""
    global RETIRE_PRIVATE_MB
    RETIRE_PRIVATE_MB = mb


def in_children(setup: Callable[[], None]) -> Callable[[], None]:
    """Register `setup` to run first in every rendering process (a module trimming its caches to one pass)."""
    _CHILD_SETUP.append(setup)
    return setup


def stats() -> dict[str, float]:
    """For the health answer: rendering processes started so far, and the peak RSS of the largest one
    (every child of a serving worker is a rendering process)."""
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if _forked else 0
    return {"render_processes_started": _forked, "render_process_peak_rss_mb": round(peak_kb / 1024, 1)}


class ExportProcessError(RuntimeError):
    """A rendering process failed; the message carries its traceback."""


def worth_forking(processes: int, work: float, blocks: int) -> bool:
    return processes > 1 and blocks > 1 and work >= MIN_WORK


def plan(processes: int, work: float, blocks: Sequence[B], whole: B) -> tuple[int, Sequence[B]]:
    """How to render an export: (processes, its blocks) when it is big enough to fork for, else (1, [whole]):
    in-process as one block, so that one renderer's caches serve the whole export."""
    if worth_forking(processes, work, len(blocks)):
        return processes, blocks
    return 1, [whole]


def csv_blocks(header: Sequence[str] | None, blocks: Sequence[B], lines_of: Callable[[B], Iterable[str]],
               processes: int, *, line_end: str = "\r\n", bom: bool = False,
               encoding: str = "utf-8") -> Iterator[bytes]:
    """The bytes of line_stream(header, all the blocks' lines), the lines rendered block by block on up to
    `processes` cores."""
    yield from line_stream(header, (), line_end=line_end, bom=bom)
    yield from render_blocks(blocks, lambda block: line_stream(None, lines_of(block), line_end=line_end,
                                                               encoding=encoding), processes)


def render_blocks(blocks: Sequence[B], render: Callable[[B], Iterable[bytes]], processes: int) -> Iterator[bytes]:
    """The bytes of render(block) for every block, in order, rendered by up to `processes` forked children
    (in-process when processes <= 1 or there is a single block)."""
    processes = min(processes, len(blocks))
    if processes <= 1:
        for block in blocks:
            yield from render(block)
        return
    children: dict[int, int] = {}  # read end of its result pipe -> pid
    task_read, task_write = os.pipe()

    def spawn() -> None:
        global _forked
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns of forking beside other threads (gzip's helper, gthread workers): the child
            # runs only the renderer, whose one lock is renewed after a fork (world._EventBudgetCache).
            warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(blocks, render, task_read, write_fd)
        _forked += 1
        os.close(write_fd)
        _grow_pipe(read_fd)
        children[read_fd] = pid

    done = False
    try:
        for prepare in _BEFORE_FORKING:
            prepare()
        for _ in range(processes):
            spawn()
        issued = min(len(blocks), AHEAD + 1)
        os.write(task_write, b"".join(_TASK.pack(i) for i in range(issued)))
        held: dict[int, int] = {}  # block -> the pipe whose next frame starts it (frame header read)
        first: dict[int, int] = {}  # block -> length of that first frame
        for i in range(len(blocks)):
            while i not in held:
                busy = set(held.values())
                ready = _readable([fd for fd in children if fd not in busy])
                for fd in ready:
                    frame = _read_frame(fd)
                    if frame is None:
                        raise ExportProcessError(f"a rendering process died before it finished (block {i} due)")
                    if frame[0] == _RETIRED:  # it rendered its share: a fresh one takes its place
                        os.close(fd)
                        _reap(children.pop(fd))
                        spawn()
                    else:
                        held[frame[0]], first[frame[0]] = fd, frame[1]
            fd, length = held.pop(i), first.pop(i)
            while length:  # the block's frames follow each other on its child's pipe; length 0 ends it
                yield from _read_exactly(fd, length)
                frame = _read_frame(fd)
                if frame is None or frame[0] != i:
                    raise ExportProcessError(f"a rendering process died in the middle of block {i}")
                length = frame[1]
            if issued < len(blocks):
                os.write(task_write, _TASK.pack(issued))
                issued += 1
        done = True
    finally:
        os.close(task_write)  # children waiting for a task see the end and exit
        os.close(task_read)
        for fd, pid in children.items():
            os.close(fd)  # a child still writing gets EPIPE and exits
            if not done:
                _kill(pid)
        for pid in children.values():
            _reap(pid)


def _child(blocks: Sequence[B], render: Callable[[B], Iterable[bytes]], task_fd: int, write_fd: int) -> None:
    code = 0
    outbox = None
    try:
        # Every inherited descriptor but its two pipes: a pipe's other end must see its end when its owner
        # closes it (another export's, forked beside this one by another thread of a gthread worker, too:
        # two downloads at once hung on each other's pipes), and so must other clients' sockets.
        _close_fds_but(task_fd, write_fd)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.freeze()  # what was inherited is never collected here: no pass copies it page by page
        for setup in _CHILD_SETUP:
            setup()
        outbox = _Outbox(write_fd, OUTBOX_BYTES)
        retirement, retire = _Retirement(), False
        while not retire and (task := os.read(task_fd, _TASK.size)):
            (i,) = _TASK.unpack(task)
            for chunk in render(blocks[i]):
                if chunk:
                    outbox.put(_FRAME.pack(i, len(chunk)) + chunk)
            outbox.put(_FRAME.pack(i, 0))
            retire = retirement.due()
        if retire:
            outbox.put(_FRAME.pack(_RETIRED, 0))
        outbox.close()
    except BaseException:  # noqa: BLE001 - everything goes to the parent, which raises it
        code = 1
        try:
            message = traceback.format_exc().encode()
            if outbox is not None:
                outbox.put(_FRAME.pack(-1, len(message)) + message)
                outbox.close()
        except OSError:
            pass
    finally:
        os._exit(code)


class _Outbox:
    """A child's frames on their way to its pipe, written by a thread while the child renders on: a child
    that finished a block the parent does not want yet goes on with the next (bounded by `limit` bytes)."""

    def __init__(self, fd: int, limit: int):
        self.fd, self.limit = fd, limit
        self.frames: deque[bytes] = deque()
        self.held = 0
        self.closed = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._write, daemon=True)
        self.thread.start()

    def put(self, frame: bytes) -> None:
        with self.cond:
            while self.held and self.held + len(frame) > self.limit:
                self.cond.wait()
            self.frames.append(frame)
            self.held += len(frame)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.thread.join()

    def _write(self) -> None:
        while True:
            with self.cond:
                while not self.frames and not self.closed:
                    self.cond.wait()
                if not self.frames:
                    return
                frame = self.frames.popleft()
            try:
                _write_all(self.fd, frame)
            except OSError:
                os._exit(1)  # the parent stopped reading (client gone): nothing left to do
            with self.cond:
                self.held -= len(frame)
                self.cond.notify_all()


def _readable(fds: list[int]) -> list[int]:
    """The pipes of `fds` with something to read (or closed), waiting until one has. poll, not select:
    select refuses a descriptor number of 1024 or more, which a busy serving process reaches."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll()]


class _Retirement:
    """Whether this rendering process has passed RETIRE_PRIVATE_MB, asked after each block.

    Reading smaps_rollup walks every mapping of the process, too slow to do after each block (figures:
    docs/performance.md). This process's private memory grows by a page only
    when it faults one in (a page it writes to copied, a new one mapped), so between readings the last
    reading plus its minor faults since (getrusage, a microsecond) bounds it, and a reading is taken when
    that bound passes the limit. One is taken every CHECK_SECONDS anyway: a page of the parent's it shares
    turns private here when the parent copies it on its side, and a huge page is one fault."""

    def __init__(self) -> None:
        # Just forked: nothing private yet, and the fault count (this process's own) starts at 0.
        self.private_mb, self.faults, self.read_at = 0.0, 0, time.monotonic()

    def due(self) -> bool:
        faults = _minor_faults()
        bound = self.private_mb + (faults - self.faults) * _PAGE_MB
        if bound <= RETIRE_PRIVATE_MB and time.monotonic() - self.read_at < CHECK_SECONDS:
            return False
        self.private_mb, self.faults, self.read_at = _private_mb(), faults, time.monotonic()
        return self.private_mb > RETIRE_PRIVATE_MB


_PAGE_MB = resource.getpagesize() / (1 << 20)


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _close_fds_but(*keep: int) -> None:
    start = 3  # standard input, output and error stay
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)


def _private_mb() -> float:
    """This process's private memory (pages it does not share with its parent); 0 where /proc cannot say."""
    total = 0
    try:
        with open("/proc/self/smaps_rollup") as handle:
            for line in handle:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return total / 1024


def _read_frame(fd: int) -> tuple[int, int] | None:
    """The next frame's (block, length); None at the end of the pipe; raises the child's error."""
    first = os.read(fd, _FRAME.size)
    if not first:
        return None
    block, length = _FRAME.unpack(first + b"".join(_read_exactly(fd, _FRAME.size - len(first))))
    if block < 0 and block != _RETIRED:
        raise ExportProcessError(b"".join(_read_exactly(fd, length)).decode(errors="replace"))
    return block, length


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int) -> Iterator[bytes]:
    while n > 0:
        piece = os.read(fd, min(n, READ_BYTES))
        if not piece:
            raise ExportProcessError("a rendering process died in the middle of a block")
        n -= len(piece)
        yield piece


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass  # the default pipe size only costs some overlap


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
