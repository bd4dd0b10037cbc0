"""Per-key bounded queues, newest first: what the report stores and a backtest's closed results are made of.

"Store" in btk means a candle store (``CandleStore``), a report store (``reports/stores.py``, fed in the
"report stores" slot of SPEC §4.6 and read by ``get_data``) or a persistence store (``persist/``); these
queues are the containers the report stores are built from.
"""
from __future__ import annotations

import math
import threading
from array import array
from collections import deque
from collections.abc import Callable, Hashable
from itertools import repeat
from typing import Any, Generic, TypeVar

T = TypeVar("T")
L = TypeVar("L", bound="BoundedLog[Any] | TimingLog")


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


_NAN = math.nan
Timing = tuple[float, float | None, str, float, str]  # end, previous end, metric type, duration ms, exchange


class TimingLog:
    """The newest ``limit`` timings of one pair's runs (0 = all), oldest first, and how many were recorded.

    A run times up to one step per candle. Kept as tuples, the newest 10 000 would be 10 000 live container
    objects, and the garbage collector walks every live container again each time enough of them pile up
    (about 10 % of a 1-year event-form backtest); here they are numbers in four arrays, read as tuples only when
    a report asks. Single writer (its pair's run); a reader sees whole entries."""

    __slots__ = ("seen", "limit", "origin", "_cols", "_codes", "_names", "_last", "_trim_at")

    def __init__(self, limit: int) -> None:
        self.seen = 0
        self.limit = limit
        self.origin: tuple[int, float] | None = None  # one instant as (wall ms, perf_counter)
        self._cols = _timing_columns()
        self._codes: dict[tuple[str, str], int] = {}  # (metric type, exchange) -> code
        self._names: list[tuple[str, str]] = []
        self._last: tuple[str, str, int] = ("", "", -1)  # the last (metric type, exchange, code): mostly the next
        #: the oldest half is dropped in one go when twice the limit is held (amortised O(1)); never with no limit
        self._trim_at = 2 * limit if limit else math.inf

    def record(self, end: float, previous: float | None, metric_type: str, duration: float, exchange: str) -> None:
        last = self._last
        if metric_type is last[0] and exchange is last[1]:
            code = last[2]
        else:
            code = self._code(metric_type, exchange)
        ends, previous_ends, durations, codes = self._cols
        ends.append(end)
        previous_ends.append(_NAN if previous is None else previous)
        durations.append(duration)
        codes.append(code)  # last: a reader counts an entry once its code is there
        self.seen += 1
        if len(codes) >= self._trim_at:
            self._cols = tuple(col[-self.limit:] for col in self._cols)  # type: ignore[assignment]

    def record_many(self, ends: list[float], previous: float | None, metric_type: str, durations: list[float],
                    exchange: str) -> None:
        """``record`` for consecutive timings of one metric, each chained to the one before (``previous`` is the
        first one's)."""
        if not ends:
            return
        code = self._code(metric_type, exchange)
        cols_ends, previous_ends, cols_durations, codes = self._cols
        cols_ends.extend(ends)
        previous_ends.append(_NAN if previous is None else previous)
        previous_ends.extend(ends[:-1])
        cols_durations.extend(durations)
        codes.extend(repeat(code, len(ends)))
        self.seen += len(ends)
        if len(codes) >= self._trim_at:
            self._cols = tuple(col[-self.limit:] for col in self._cols)  # type: ignore[assignment]

    def _code(self, metric_type: str, exchange: str) -> int:
        code = self._codes.get((metric_type, exchange))
        if code is None:
            code = self._codes[(metric_type, exchange)] = len(self._names)
            self._names.append((metric_type, exchange))
        self._last = (metric_type, exchange, code)
        return code

    @property
    def items(self) -> list[Timing]:
        """The kept timings, oldest first."""
        ends, previous_ends, durations, codes = self._cols
        n = len(codes)
        first = max(0, n - self.limit) if self.limit else 0
        names = self._names
        return [(ends[k], None if math.isnan(previous_ends[k]) else previous_ends[k], names[codes[k]][0],
                 durations[k], names[codes[k]][1]) for k in range(first, n)]


def _timing_columns() -> tuple[array, array, array, array]:
    return array("d"), array("d"), array("d"), array("I")


class KeyedLogs(Generic[L]):
    """A log per key (what ``factory(limit)`` makes: a :class:`BoundedLog` or a :class:`TimingLog`). A run
    ``open``\\ s its pair's log (replacing the previous run's) and appends to it without a lock; ``items`` reads
    newest first like :class:`KeyedQueues`."""

    def __init__(self, factory: Callable[[int], L]) -> None:
        self._lock = threading.Lock()
        self._logs: dict[Hashable, L] = {}
        self._factory = factory

    def open(self, key: Hashable, limit: int, *, fresh: bool = True) -> L:
        """The log a run writes to: a new empty one (``fresh``), or the key's existing one (live keeps appending
        across restarts of its loop in one process)."""
        with self._lock:
            log = self._logs.get(key)
            if fresh or log is None:
                log = self._logs[key] = self._factory(limit)
            return log

    def get(self, key: Hashable) -> L | None:
        with self._lock:
            return self._logs.get(key)

    def items(self, key: Hashable) -> list[Any]:
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
