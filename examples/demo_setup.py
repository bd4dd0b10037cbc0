"""Demo setup: the synthetic exchange, three strategies of different styles and a one-month frame, and
``sma_grid``, a parameterised SMA cross in batch form for ``btk sweep`` and ``btk walk-forward``.

Importing this module registers everything; ``btk demo`` and the tests use it.
"""
from datetime import UTC, datetime
from functools import partial

import numpy as np

from btk_core import add_frame, add_risk, add_strategy, add_walker, get_average_price, get_candles
from btk_core.exchanges import add_synthetic_exchange

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
STRATEGIES = ["sma_cross", "dip_buyer", "breakout"]
EXCHANGE = "synthetic"
FRAME = "june-2024"
WALKER = "compare"


def mean(values):
    return sum(values) / len(values)


def sma_cross(symbol, when):
    """Trend following on 5m closes: SMA 5 crossing SMA 20 opens a market position either way."""
    closes = get_candles(symbol, "5m", 21).close.tolist()
    if len(closes) < 21:
        return None
    fast, slow = mean(closes[-5:]), mean(closes[-20:])
    fast_before, slow_before = mean(closes[-6:-1]), mean(closes[-21:-1])
    price = get_average_price(symbol)
    if fast > slow and fast_before <= slow_before:
        return {"position": "long", "price_take_profit": price * 1.012, "price_stop_loss": price * 0.992,
                "minute_estimated_time": 240, "note": "SMA 5 crossed above SMA 20"}
    if fast < slow and fast_before >= slow_before:
        return {"position": "short", "price_take_profit": price * 0.988, "price_stop_loss": price * 1.008,
                "minute_estimated_time": 240, "note": "SMA 5 crossed below SMA 20"}
    return None


def dip_buyer(symbol, when):
    """Mean reversion with a limit entry: after a sharp 15m drop, bid below the market and wait."""
    closes = get_candles(symbol, "15m", 16).close.tolist()
    if len(closes) < 16:
        return None
    drop = closes[-1] / max(closes) - 1
    if drop > -0.015:
        return None
    price = get_average_price(symbol)
    entry = price * 0.996
    return {"position": "long", "price_open": entry, "price_take_profit": entry * 1.01,
            "price_stop_loss": entry * 0.99, "minute_estimated_time": 360,
            "note": f"**dip** of {drop:.2%} in 4h: limit bid 0.4% under the market"}


def breakout(symbol, when):
    """Hourly breakout: a close above the previous day's high goes long, below its low goes short."""
    candles = get_candles(symbol, "1h", 25)
    if len(candles) < 25:
        return None
    highs, lows, closes = candles.high.tolist(), candles.low.tolist(), candles.close.tolist()
    price = get_average_price(symbol)
    if closes[-1] > max(highs[:-1]):
        return {"position": "long", "price_take_profit": price * 1.02, "price_stop_loss": price * 0.99,
                "minute_estimated_time": 720}
    if closes[-1] < min(lows[:-1]):
        return {"position": "short", "price_take_profit": price * 0.98, "price_stop_loss": price * 1.01,
                "minute_estimated_time": 720}
    return None


def at_most_two_positions(payload):
    """Shared by every breakout pair: no third position while two are open."""
    if payload.active_position_count >= 2:  # a mapping names the rejection: the risk report's ID column
        return {"id": "max-2-positions", "note": f"{payload.active_position_count} breakout positions already open"}
    return None


def rolling_mean(values, n):
    """``out[k]`` = mean of ``values[k-n+1..k]`` (NaN before ``n`` values)."""
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        out[n - 1:] = np.convolve(values, np.ones(n) / n, mode="valid")
    return out


def sma_grid_signals(symbol, candles, fast, slow, hold):
    """Batch form of an SMA cross on 5m closes: long when SMA ``fast`` crosses above SMA ``slow``, short when it
    crosses below; TP 1.2 %, SL 0.8 %, at most ``hold`` minutes. One numpy pass for the whole frame."""
    import pandas as pd
    close = candles.close
    f, s = rolling_mean(close, fast), rolling_mean(close, slow)
    up = np.zeros(len(close), dtype=bool)
    down = np.zeros(len(close), dtype=bool)
    up[1:] = (f[1:] > s[1:]) & (f[:-1] <= s[:-1])
    down[1:] = (f[1:] < s[1:]) & (f[:-1] >= s[:-1])
    k = np.flatnonzero(up | down)
    long = up[k]
    price = close[k]
    return pd.DataFrame({"position": np.where(long, "long", "short"),
                         "price_take_profit": np.where(long, price * 1.012, price * 0.988),
                         "price_stop_loss": np.where(long, price * 0.992, price * 1.008),
                         "minute_estimated_time": hold}, index=candles.timestamp[k] + 300_000)


add_synthetic_exchange(EXCHANGE)
add_risk(risk_name="breakout_book", validations=[at_most_two_positions], note=at_most_two_positions.__doc__)
add_strategy(strategy_name="sma_cross", interval="5m", get_signal=sma_cross, note=sma_cross.__doc__)
add_strategy(strategy_name="dip_buyer", interval="15m", get_signal=dip_buyer, note=dip_buyer.__doc__)
add_strategy(strategy_name="breakout", interval="1h", get_signal=breakout, note=breakout.__doc__,
             risk_name="breakout_book")
add_frame(frame_name=FRAME, interval="1m", start_date=datetime(2024, 6, 1, tzinfo=UTC),
          end_date=datetime(2024, 7, 1, tzinfo=UTC))
add_strategy(strategy_name="sma_grid", interval="5m",
             make=lambda p: {"get_signals": partial(sma_grid_signals, **p), "lookback": p["slow"] + 1},
             params={"fast": [5, 10, 20], "slow": [20, 40, 80], "hold": [120, 240]},
             constraint=lambda p: p["fast"] < p["slow"], note="SMA cross in batch form, for sweeps")
add_walker(walker_name=WALKER, exchange_name=EXCHANGE, frame_name=FRAME, strategies=STRATEGIES, metric="sharpe_ratio")
