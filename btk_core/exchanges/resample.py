"""Aggregating 1m candles into a higher interval (used by sources, never by the engine)."""
from __future__ import annotations

import numpy as np

from ..candles import Columns


def aggregate(cols: Columns, interval_ms: int) -> Columns:
    """OHLCV of each ``interval_ms`` bucket that holds at least one 1m candle (input ascending)."""
    ts, o, h, l, c, v = cols
    if len(ts) == 0:
        return cols
    bucket = ts - ts % interval_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(ts)] - 1
    return (bucket[starts], o[starts], np.maximum.reduceat(h, starts), np.minimum.reduceat(l, starts),
            c[ends], np.add.reduceat(v, starts))
