"""Candle columns held by in-process sources (files, memory): normalised once, served as read-only views.

The engine keeps a read-only answer's memory instead of copying it (``CandleStore``), so a source that
holds its candles once and answers with views keeps one copy of the data in the process.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..candles import FIELDS, Candles, Columns, freeze
from ..intervals import CANDLE_INTERVAL_MS
from .resample import aggregate


def normalised(arrays: list[np.ndarray]) -> Columns:
    """int64 timestamps and float64 values in ascending time order, as read-only views (no copy when they
    already are; the caller's own arrays keep their flags, and must not be modified while runs read them)."""
    cols = (np.asarray(arrays[0]).astype(np.int64, copy=False).view(),) + tuple(
        np.asarray(a).astype(np.float64, copy=False).view() for a in arrays[1:])
    if len(cols[0]) > 1 and not bool((np.diff(cols[0]) > 0).all()):
        order = np.argsort(cols[0], kind="stable")
        cols = tuple(c[order] for c in cols)
    freeze(*cols)
    return cols  # type: ignore[return-value]


def content_digest(cols: Columns) -> str:
    """A hash of the columns' bytes (for cache keys that change when the data does)."""
    import hashlib
    digest = hashlib.sha256()
    for col in cols:
        digest.update(np.ascontiguousarray(col).tobytes())
    return digest.hexdigest()


def as_columns(candles: Any) -> Columns:
    """Columns of a DataFrame, ``Candles`` or mapping of the six fields."""
    if isinstance(candles, Candles):
        return normalised(list(candles.columns()))
    missing = [f for f in FIELDS if f not in candles]
    if missing:
        raise ValueError(f"candles lack column '{missing[0]}' (needs {list(FIELDS)})")
    return normalised([np.asarray(candles[f]) for f in FIELDS])


class IntervalColumns:
    """Columns per (symbol, interval): loaded by ``load(symbol, interval)`` (None when the source has no such
    series), else aggregated once from the symbol's 1m columns."""

    def __init__(self, load: Callable[[str, str], Columns | None]) -> None:
        self._load = load
        self._cache: dict[tuple[str, str], Columns] = {}

    def get(self, symbol: str, interval: str) -> Columns:
        key = (symbol, interval)
        cols = self._cache.get(key)
        if cols is None:
            cols = self._load(symbol, interval)
            if cols is None and interval != "1m":
                cols = aggregate(self.get(symbol, "1m"), CANDLE_INTERVAL_MS[interval])
                freeze(*cols)
            if cols is None:
                raise LookupError(f"no candles for symbol={symbol!r} interval={interval!r}")
            self._cache[key] = cols
        return cols

    def clear(self) -> None:
        self._cache.clear()


def answer(cols: Columns, since: int, limit: int) -> Candles:
    """The source answer: up to ``limit`` candles from ``since``, as a view."""
    i0 = int(cols[0].searchsorted(since))
    return Candles.view(cols, i0, min(i0 + limit, len(cols[0])))
