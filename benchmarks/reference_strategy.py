"""The peer benchmark's reference strategy written for btk (../shared/bench/peers/STRATEGY.md).

SMA 5/20 cross of 5-minute closes, long only, TP/SL +-1 % of the decision candle's close, 24 h
lifetime. btk decides at each 5m boundary on the candles closed by then and enters at the average
price (SPEC §2.9), so run it with slippage 0 and compare trade counts, not trade lists.

``get_signal`` is the event form; ``get_signals`` is the same strategy in batch form (one numpy pass
over all candles, a row per decision time = the close time of the 5m candle that crossed). Both give
the same trades.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np

from btk_core import Candles, add_exchange, add_frame, add_strategy, get_candles, set_config
from btk_core.exchanges import add_memory_exchange

FAST, SLOW, MAX_HOLD = 5, 20, 1440


def get_signal(symbol: str, when: datetime) -> dict | None:
    closes = get_candles(symbol, "5m", SLOW + 1).close.tolist()
    if len(closes) < SLOW + 1:
        return None
    fast_now = sum(closes[-FAST:]) / FAST
    slow_now = sum(closes[-SLOW:]) / SLOW
    fast_before = sum(closes[-FAST - 1:-1]) / FAST
    slow_before = sum(closes[-SLOW - 1:-1]) / SLOW
    if not (fast_now > slow_now and fast_before <= slow_before):
        return None
    close = closes[-1]
    return {"position": "long", "price_take_profit": close * 1.01, "price_stop_loss": close * 0.99,
            "minute_estimated_time": MAX_HOLD}


def sma(values: np.ndarray, n: int) -> np.ndarray:
    """``out[k]`` = mean of ``values[k-n+1..k]`` (NaN before ``n`` values), summed like ``sum()`` above."""
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        windows = np.lib.stride_tricks.sliding_window_view(values, n)
        out[n - 1:] = np.add.reduce(windows, axis=1) / n
    return out


def get_signals(symbol: str, candles: Candles) -> pd.DataFrame:  # noqa: F821
    import pandas as pd  # here, so that the event form's process never loads pandas
    close = candles.close
    fast, slow = sma(close, FAST), sma(close, SLOW)
    cross = np.zeros(len(close), dtype=bool)
    cross[1:] = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1])
    k = np.flatnonzero(cross)
    return pd.DataFrame({"position": "long", "price_take_profit": close[k] * 1.01,
                         "price_stop_loss": close[k] * 0.99, "minute_estimated_time": MAX_HOLD},
                        index=candles.timestamp[k] + 300_000)


def rows_source(data: dict, symbol: str) -> Callable[[str, str, int, int], list[list[float]]]:
    """A plain user source, as people write one over ccxt or a database: it answers ``[ts, o, h, l, c, v]``
    Python lists (prepared once here, like the rows a ccxt ``fetch_ohlcv`` page holds)."""
    from btk_core.exchanges.resample import aggregate
    from btk_core.intervals import CANDLE_INTERVAL_MS
    one = tuple(np.asarray(data[f]) for f in ("timestamp", "open", "high", "low", "close", "volume"))
    series = {}
    for interval in ("1m", "5m"):
        cols = one if interval == "1m" else aggregate(one, CANDLE_INTERVAL_MS[interval])
        series[interval] = (cols[0], [list(r) for r in zip(cols[0].tolist(), *(c.tolist() for c in cols[1:]))])

    def get_candles(sym: str, interval: str, since: int, limit: int) -> list[list[float]]:
        ts, rows = series[interval]
        i = int(ts.searchsorted(since))
        return rows[i:i + limit] if sym == symbol else []
    return get_candles


def register(data: dict, symbol: str = "BENCH", source: str = "memory") -> None:
    """Exchange ``bench`` over the candles (``data``: the 1m columns; ``source="memory"`` serves them in place,
    ``"rows"`` through a plain source answering Python lists), strategies ``sma`` and ``sma-batch`` and frame
    ``bench`` (entries end a day early)."""
    start_ms, candles = int(data["timestamp"][0]), len(data["close"])
    set_config(CC_PERCENT_SLIPPAGE=0, CC_GET_CANDLES_RETRY_DELAY_MS=0)
    if source == "rows":
        add_exchange(exchange_name="bench", get_candles=rows_source(data, symbol))
    else:
        add_memory_exchange("bench", {symbol: data})
    add_strategy(strategy_name="sma", interval="5m", get_signal=get_signal)
    add_strategy(strategy_name="sma-batch", interval="5m", get_signals=get_signals, lookback=SLOW + 1)
    add_frame(frame_name="bench", interval="5m", start_date=start_ms,
              end_date=start_ms + (candles - MAX_HOLD - 1) * 60_000)
