"""Small builders shared by tests."""
from __future__ import annotations

from typing import Any

import numpy as np

from btk_core import add_exchange
from btk_core.intervals import INTERVAL_MS

T0 = 1704067200000  # 2024-01-01T00:00Z
M = 60_000


class ListSource:
    """A user source serving fixed candles per interval as lists (the ccxt shape), logging calls."""

    def __init__(self, candles: dict[str, list[list[float]]], page: int | None = None) -> None:
        self.candles = {k: sorted(v) for k, v in candles.items()}
        self.page = page
        self.calls: list[tuple[str, str, int, int]] = []

    def __call__(self, symbol: str, interval: str, since: int, limit: int) -> list[list[float]]:
        self.calls.append((symbol, interval, since, limit))
        rows = [r for r in self.candles.get(interval, []) if r[0] >= since]
        n = limit if self.page is None else min(limit, self.page)
        return rows[:n]


def flat_candles(start: int, count: int, interval: str = "1m", price: float = 100.0,
                 volume: float = 10.0) -> list[list[float]]:
    """``count`` quiet candles ``(100, 100.2, 99.8, 100, 10)`` from ``start``."""
    step = INTERVAL_MS[interval]
    return [[start + i * step, price, price + 0.2, price - 0.2, price, volume] for i in range(count)]


def register(source: Any, name: str = "ex") -> Any:
    return add_exchange(exchange_name=name, get_candles=source)


def columns(rows: list[list[float]]) -> tuple[np.ndarray, ...]:
    arr = np.array(rows, dtype=float)
    return (arr[:, 0].astype(np.int64),) + tuple(arr[:, k] for k in range(1, 6))
