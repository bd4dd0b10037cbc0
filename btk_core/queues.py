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
