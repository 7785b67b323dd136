"""The caches of a world: recent hour shards in a budget of events, shared by a worker's threads and read
(never changed) by the processes an export forks (emulator.parallel)."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Event

SHARD_CACHE_EVENTS = 100_000  # about three days at scale 1; ~25 MB
RECIPIENT_CACHE = 1 << 16  # recipients kept built (5,000 per unit of scale)
KEEP_SHARDS = 2  # whatever the budget: the hour at hand and its typed view (correlation_ids reads the shard)


class _EventBudgetCache:
    """An LRU of shards (tuples of events) whose total length stays within a budget of events."""

    def __init__(self, budget: int, inherited: _EventBudgetCache | None = None):
        self.budget = budget
        self._items: OrderedDict[tuple, tuple[Event, ...]] = OrderedDict()
        # A forked process's view of its parent's cache: read, never changed (see _one_pass).
        self._inherited = inherited._items if inherited is not None else {}
        self._events = 0
        self._lock = threading.Lock()
        _CACHES.add(self)

    def _after_fork(self) -> None:
        # A process forked to render blocks of an export (emulator.parallel) while another thread held the
        # lock would otherwise wait for it forever.
        self._lock = threading.Lock()

    def memo(self, build):
        """`build(*key)` through the cache: a function with the same arguments and a cache_clear."""
        def cached(*key):
            full = (build.__name__, *key)
            with self._lock:
                found = self._items.get(full)
                if found is not None:
                    self._items.move_to_end(full)
                    return found
                found = self._inherited.get(full)
                if found is not None:
                    return found
            value = build(*key)
            with self._lock:
                if full not in self._items:
                    self._items[full] = value
                    self._events += len(value)
                while self._events > self.budget and len(self._items) > KEEP_SHARDS:
                    _, old = self._items.popitem(last=False)
                    self._events -= len(old)
            return value

        cached.cache_clear = self.clear
        return cached

    def holds(self, *key) -> bool:
        with self._lock:
            return key in self._items or key in self._inherited

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._events = 0


_CACHES: weakref.WeakSet[_EventBudgetCache] = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [cache._after_fork() for cache in list(_CACHES)])


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while acyclic tuples are built by the hundred thousand."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class KeyedCache:
    """A small thread-safe LRU of `build(*key)`, into which a caller that has a value at hand may put it."""

    def __init__(self, build, maxsize: int):
        self.build, self.maxsize = build, maxsize
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # as _EventBudgetCache's

    def __call__(self, *key):
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        value = self.build(*key)
        self.put(key, value)
        return value

    def put(self, key: tuple, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
