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


QUIET = (100.0, 100.2, 99.8, 100.0, 10.0)


class Scenario:
    """A one-pair backtest on hand-made 1m candles: every minute is QUIET unless overridden.

    ``signals`` maps a minute index (``when = T0 + m min``) to what ``get_signal`` returns there.
    Records the calls, every emitted result, partial and ping events, and errors.
    """

    def __init__(self, overrides=None, signals=None, *, frame=(10, 200), interval="1m",
                 frame_interval="1m", history=(-200, 2000), callbacks=None, strategy_name="s"):
        import btk_core as bt
        self.bt = bt
        self.overrides = {k: tuple(float(x) for x in v) + (() if len(v) == 5 else (10.0,))
                          for k, v in (overrides or {}).items()}
        self.signals = signals or {}
        self.calls: list[int] = []
        self.results: list = []
        self.partials: list = []
        self.pings: list = []
        self.errors: list = []
        lo, hi = history
        rows = [[T0 + m * M, *self.overrides.get(m, QUIET)] for m in range(lo, hi)]
        bt.add_exchange(exchange_name="ex", get_candles=ListSource({"1m": rows}))
        bt.add_frame(frame_name="f", interval=frame_interval, start_date=T0 + frame[0] * M,
                     end_date=T0 + frame[1] * M)
        bt.add_strategy(strategy_name=strategy_name, interval=interval, get_signal=self.get_signal,
                        callbacks=callbacks)
        bt.listen_signal(self.results.append)
        bt.listen_partial_profit(lambda e: self.partials.append(("profit", e.level, e.timestamp, e.current_price)))
        bt.listen_partial_loss(lambda e: self.partials.append(("loss", e.level, e.timestamp, e.current_price)))
        bt.listen_ping(lambda e: self.pings.append(e.timestamp))
        bt.listen_error(self.errors.append)
        self.strategy_name = strategy_name

    def get_signal(self, symbol, when):
        minute = (int(when.timestamp() * 1000) - T0) // M
        self.calls.append(minute)
        value = self.signals.get(minute)
        return value(symbol, when) if callable(value) else value

    def run(self):
        self.yielded = list(self.bt.Backtest.run("BTC", strategy_name=self.strategy_name, exchange_name="ex",
                                                 frame_name="f"))
        return self.yielded

    def actions(self):
        return [r.action for r in self.results if r.action != "idle"]


def mins(t: int) -> float:
    """Minutes since T0 (for readable assertions)."""
    return (t - T0) / M


def quiet_market(overrides=None, symbols=("BTC", "ETH", "SOL"), history=(-200, 2000), name="ex"):
    """Register exchange ``name``: QUIET 1m candles for every symbol, with per-symbol minute overrides."""
    import btk_core as bt
    overrides = overrides or {}
    table = {}
    for symbol in symbols:
        extra = overrides.get(symbol, {})
        table[symbol] = [[T0 + m * M, *(tuple(float(x) for x in extra[m]) + (10.0,))[:5]] if m in extra
                         else [T0 + m * M, *QUIET] for m in range(*history)]

    def get_candles(symbol, interval, since, limit):
        if interval != "1m":
            return []
        return [r for r in table.get(symbol, []) if r[0] >= since][:limit]

    return bt.add_exchange(exchange_name=name, get_candles=get_candles)


def signal_table(table):
    """A get_signal answering ``table[(symbol, minute)]`` (calls recorded in ``.calls``)."""
    def get_signal(symbol, when):
        minute = (int(when.timestamp() * 1000) - T0) // M
        get_signal.calls.append((symbol, minute))
        return table.get((symbol, minute))
    get_signal.calls = []
    return get_signal


def long_at_market(tp=101, sl=99, minutes=60):
    return {"position": "long", "price_take_profit": tp, "price_stop_loss": sl, "minute_estimated_time": minutes}


def hourly_synthetic_day(strategy_name: str) -> int:
    """Synthetic exchange ``syn``, a long every hour at the average price (TP/SL +-0.6 %, 45 min) registered as
    ``strategy_name`` and frame ``day`` (2024-06-01, 1m); returns the frame's start."""
    from btk_core import add_frame, add_strategy, get_average_price
    from btk_core.exchanges import add_synthetic_exchange
    add_synthetic_exchange("syn")
    start = 1717200000000  # 2024-06-01

    def hourly(symbol, when):
        price = get_average_price(symbol)
        return {"position": "long", "price_take_profit": price * 1.006, "price_stop_loss": price * 0.994,
                "minute_estimated_time": 45}
    add_strategy(strategy_name=strategy_name, interval="1h", get_signal=hourly)
    add_frame(frame_name="day", interval="1m", start_date=start, end_date=start + 24 * 60 * M)
    return start
