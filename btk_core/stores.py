"""Bounded stores of the engine's own results, keyed by (symbol, strategy_name, backtest) (SPEC §14).

They are fed in the "report stores" slot of §4.6 and back ``get_data`` / reports.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class BoundedStore(Generic[T]):
    """Per-key queues, newest first, cut to ``limit`` items (0 = unbounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Hashable, deque[T]] = {}

    def add(self, key: Hashable, item: T, limit: int) -> None:
        with self._lock:
            queue = self._items.setdefault(key, deque())
            queue.appendleft(item)
            if limit and len(queue) > limit:
                queue.pop()

    def items(self, key: Hashable) -> list[T]:
        """Newest first."""
        with self._lock:
            return list(self._items.get(key, ()))

    def clear_all(self) -> None:
        with self._lock:
            self._items.clear()

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)
