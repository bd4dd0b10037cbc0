"""``check_lookahead``: does a batch strategy's signal at ``t`` change when the candles after ``t`` are hidden?

``get_signals`` receives every candle of the frame at once, so nothing stops it from reading the future
(a ``shift(-1)``, a centred window, a normalisation over the whole series). This check recomputes it on
history truncated at sampled decision times and compares the row of each time with the full run's row.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import clock
from .batch import SignalTable, history, table_from_frame
from .candle_store import CandleStore
from .config import snapshot
from .errors import BtkError, LookAheadError, wrap_user_error
from .fmt import iso
from .intervals import INTERVAL_MS
from .registry import lookup


def _same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if isinstance(x, float) or isinstance(y, float):
            if not (isinstance(x, (int, float)) and isinstance(y, (int, float))
                    and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)):
                return False
        elif x != y:
            return False
    return True


def _sample_times(table: SignalTable, grid: np.ndarray, samples: int) -> list[int]:
    """Up to ``samples`` decision times: half where the full run has a signal (a look-ahead usually makes
    those vanish), half spread over every decision time (where it makes signals appear)."""
    signals = table.times[(table.times >= grid[0]) & (table.times <= grid[-1])] if len(grid) else table.times[:0]
    picked: set[int] = set()
    for pool, count in ((signals, samples - samples // 2), (grid, samples // 2)):
        if len(pool) and count:
            spread = np.unique(np.linspace(0, len(pool) - 1, min(count, len(pool))).astype(int))
            picked.update(int(t) for t in pool[spread])
    return sorted(picked)


def check_lookahead(symbol: str, strategy_name: str, exchange_name: str, frame_name: str, samples: int = 50) -> int:
    """Raise ``LookAheadError`` naming the first sampled decision time whose batch signal changes when the
    candles after it are hidden; returns how many times were checked. Only batch strategies can be checked
    (``get_signal`` cannot see the future: the engine only gives it closed candles)."""
    from .modes.backtest import frame_bounds
    strategy = lookup("strategy", strategy_name)
    if strategy.get_signals is None:
        raise BtkError(f"check_lookahead needs a batch strategy (get_signals); '{strategy_name}' uses get_signal")
    if type(samples) is not int or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    store = CandleStore(lookup("exchange", exchange_name), snapshot())
    start, step, total = frame_bounds(lookup("frame", frame_name), clock.now())
    if not total:
        return 0
    interval_ms = INTERVAL_MS[strategy.interval]
    first, last = start, start + (total - 1) * step

    def table_until(t: int) -> SignalTable:
        candles = history(store, symbol, strategy, first, t)
        try:
            frame = strategy.get_signals(symbol, candles)
        except Exception as exc:
            raise wrap_user_error(exc, where=f"get_signals (history up to {iso(t)})", symbol=symbol,
                                  strategy_name=strategy_name) from exc
        return table_from_frame(frame, interval_ms, f"get_signals of {strategy_name}")

    full = table_until(last)
    grid = np.arange(-(-first // interval_ms) * interval_ms, last + 1, interval_ms, dtype=np.int64)
    times = _sample_times(full, grid, samples)
    for t in times:
        truncated = table_until(t).answer(t)
        if not _same(full.answer(t), truncated):
            raise LookAheadError(
                f"{strategy_name} on {symbol}: the signal at {iso(t)} changes when the candles after it are hidden "
                f"(all candles: {full.answer(t)!r}; candles up to {iso(t)}: {truncated!r})",
                strategy_name=strategy_name, symbol=symbol, timestamp=t)
    return len(times)
