"""Per-key bounded queues, newest first: what the report stores and a backtest's closed results are made of.

"Store" in btk means a candle store (``CandleStore``), a report store (``reports/stores.py``, fed in the
"report stores" slot of SPEC §4.6 and read by ``get_data``) or a persistence store (``persist/``); these
queues are the containers the report stores are built from.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class KeyedQueues(Generic[T]):
    """Per-key queues, newest first, cut to ``limit`` items (0 = unbounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Hashable, deque[T]] = {}
        self._seen: dict[Hashable, int] = {}  # every item added since the key was cleared, kept or cut

    def add(self, key: Hashable, item: T, limit: int) -> None:
        with self._lock:
            queue = self._items.setdefault(key, deque())
            queue.appendleft(item)
            self._seen[key] = self._seen.get(key, 0) + 1
            if limit and len(queue) > limit:
                queue.pop()

    def items(self, key: Hashable) -> list[T]:
        """Newest first."""
        with self._lock:
            return list(self._items.get(key, ()))

    def seen(self, key: Hashable) -> int:
        """How many items were added under ``key`` (more than ``items`` holds when the queue was cut)."""
        with self._lock:
            return self._seen.get(key, 0)

    def clear_all(self) -> None:
        with self._lock:
            self._items.clear()
            self._seen.clear()

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._seen.pop(key, None)


class BoundedLog(Generic[T]):
    """The newest ``limit`` items of one pair run's stream (0 = all), oldest first, and how many were appended.

    Appending is one deque append and an integer add, cheap enough to record every milestone and every timed
    step of a run by default (SPEC §20.5); each log has a single writer (its pair's run), readers copy."""

    __slots__ = ("items", "seen", "limit", "origin")

    def __init__(self, limit: int) -> None:
        self.items: deque[T] = deque(maxlen=limit or None)
        self.seen = 0
        self.limit = limit
        self.origin: tuple[int, float] | None = None  # of a timing log: one instant as (wall ms, perf_counter)

    def append(self, item: T, count: int = 1) -> None:
        """Add ``item``, which stands for ``count`` events (a run of milestones is one item of several)."""
        self.items.append(item)
        self.seen += count

    def count(self, events: int) -> None:
        """Count events older than anything the log keeps, without building them."""
        self.seen += events


class KeyedLogs(Generic[T]):
    """A :class:`BoundedLog` per key. A run ``open``\\ s its pair's log (replacing the previous run's) and appends
    to it without a lock; ``items`` reads newest first like :class:`KeyedQueues`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[Hashable, BoundedLog[T]] = {}

    def open(self, key: Hashable, limit: int, *, fresh: bool = True) -> BoundedLog[T]:
        """The log a run writes to: a new empty one (``fresh``), or the key's existing one (live keeps appending
        across restarts of its loop in one process)."""
        with self._lock:
            log = self._logs.get(key)
            if fresh or log is None:
                log = self._logs[key] = BoundedLog(limit)
            return log

    def get(self, key: Hashable) -> BoundedLog[T] | None:
        with self._lock:
            return self._logs.get(key)

    def items(self, key: Hashable) -> list[T]:
        """Newest first."""
        log = self.get(key)
        return [] if log is None else list(reversed(log.items.copy()))

    def seen(self, key: Hashable) -> int:
        log = self.get(key)
        return 0 if log is None else log.seen

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._logs.pop(key, None)

    def clear_all(self) -> None:
        with self._lock:
            self._logs.clear()
