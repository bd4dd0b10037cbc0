"""The embedded default exchange: deterministic GBM-like 1m candles for any time range.

Every number is a stateless hash (splitmix64) of ``(seed, symbol, stream, index)``,
so the same minute always gets the same candle whatever range is asked, and
nothing is stored. Day-level log prices form a random walk anchored at
2024-01-01; within a day the minute path is a Brownian bridge between the two
day levels, so paths are continuous across any request boundary. Higher
intervals are aggregated from the source's own 1m candles, so all intervals agree.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .. import clock
from ..candles import Candles, Columns
from ..fmt import readable_price
from ..intervals import CANDLE_INTERVAL_MS, MINUTE_MS
from ..registry import add_exchange
from ..schemas import ExchangeSchema
from .resample import aggregate

_DAY_MIN = 1440
_ORIGIN_DAY = 19723  # 2024-01-01 in days since the epoch
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_STREAM_DAY, _STREAM_MIN, _STREAM_HIGH, _STREAM_LOW, _STREAM_VOL = range(1, 6)
DEFAULT_START_PRICES = {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 100.0,
                        "BNBUSDT": 400.0, "XRPUSDT": 0.6}


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrap-around arithmetic is intended)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(key: int, stream: int, idx: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = idx.astype(np.uint64) * _GOLDEN + np.uint64((key + stream * 0x632BE59BD9B4E019) % 2**64)
        bits = _mix(_mix(z))
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53


def _normal(key: int, stream: int, idx: np.ndarray) -> np.ndarray:
    u1 = _uniform(key, stream, idx)
    u2 = _uniform(key, stream + 100, idx)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _key(seed: int, symbol: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{symbol}".encode()).digest()[:8], "little")


def _start_price(symbol: str, key: int, start_prices: dict[str, float]) -> float:
    if symbol in start_prices:
        return start_prices[symbol]
    u = float(_uniform(key, 99, np.zeros(1, dtype=np.int64))[0])
    return round(10 ** (1 + 3 * u), 2)


def synthetic_candles(symbol: str, start_minute: int, count: int, *, seed: int = 42, vol: float = 0.0008,
                      start_prices: dict[str, float] | None = None) -> Columns:
    """1m candles for the ``count`` minutes from minute index ``start_minute`` (minutes since the epoch)."""
    key = _key(seed, symbol)
    p0 = _start_price(symbol, key, DEFAULT_START_PRICES if start_prices is None else start_prices)
    minutes = np.arange(start_minute, start_minute + count, dtype=np.int64)
    first_day = start_minute // _DAY_MIN
    last_day = (start_minute + count - 1) // _DAY_MIN
    # log level at the start of each day from first_day to last_day + 1, walking from the origin
    lo, hi = min(first_day, _ORIGIN_DAY), max(last_day + 1, _ORIGIN_DAY)
    days = np.arange(lo, hi, dtype=np.int64)
    sigma_day = vol * np.sqrt(_DAY_MIN)
    steps = _normal(key, _STREAM_DAY, days) * sigma_day - 0.5 * sigma_day * sigma_day
    level = np.concatenate(([0.0], np.cumsum(steps)))  # level[i] = level at day lo + i
    level = level - level[_ORIGIN_DAY - lo] + np.log(p0)
    # minute path inside each touched day: a Brownian bridge between its two day levels
    day_idx = np.arange(first_day, last_day + 1, dtype=np.int64)
    all_minutes = (day_idx[:, None] * _DAY_MIN + np.arange(_DAY_MIN)).ravel()
    walk = np.cumsum((_normal(key, _STREAM_MIN, all_minutes) * vol).reshape(-1, _DAY_MIN), axis=1)
    start_level = level[day_idx - lo][:, None]
    end_level = level[day_idx - lo + 1][:, None]
    frac = np.arange(1, _DAY_MIN + 1) / _DAY_MIN
    path_end = start_level + walk - frac * (walk[:, -1:] - (end_level - start_level))  # log close per minute
    path_start = np.concatenate((start_level, path_end[:, :-1]), axis=1)  # log open per minute
    offset = start_minute - first_day * _DAY_MIN
    close = np.exp(path_end.ravel()[offset:offset + count])
    open_ = np.exp(path_start.ravel()[offset:offset + count])
    high = np.maximum(open_, close) * np.exp(np.abs(_normal(key, _STREAM_HIGH, minutes)) * (0.5 * vol))
    low = np.minimum(open_, close) * np.exp(-np.abs(_normal(key, _STREAM_LOW, minutes)) * (0.5 * vol))
    volume = np.exp(_normal(key, _STREAM_VOL, minutes) * 0.8 + np.log(5.0))
    return minutes * MINUTE_MS, open_, high, low, close, volume


def add_synthetic_exchange(exchange_name: str = "synthetic", *, seed: int = 42, vol: float = 0.0008,
                           start_prices: dict[str, float] | None = None, note: str | None = None,
                           callbacks: object = None) -> ExchangeSchema:
    """Register the synthetic source under ``exchange_name``. Candles end at the last closed one."""

    def get_candles(symbol: str, interval: str, since: int, limit: int) -> Candles:
        interval_ms = CANDLE_INTERVAL_MS[interval]
        since = -(-since // interval_ms) * interval_ms  # first aligned slot at or after since
        closed = (clock.now() - since) // interval_ms
        count = max(0, min(limit, closed))
        if count == 0:
            return Candles()
        per = interval_ms // MINUTE_MS
        cols = synthetic_candles(symbol, since // MINUTE_MS, count * per, seed=seed, vol=vol,
                                 start_prices=start_prices)
        if per > 1:
            cols = aggregate(cols, interval_ms)
        return Candles(*cols)

    def fingerprint(symbol: str, interval: str, start: int, end: int) -> str:
        """The candles are a function of these parameters alone (and of the range, which the key holds)."""
        return f"synthetic:{seed}:{vol!r}:{sorted((start_prices or DEFAULT_START_PRICES).items())}"

    return add_exchange(exchange_name=exchange_name, get_candles=get_candles, format_price=readable_price,
                        note=note or f"synthetic GBM candles (seed={seed}, vol={vol})", callbacks=callbacks,
                        fingerprint=fingerprint)
