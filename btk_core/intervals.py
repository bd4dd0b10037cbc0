"""Interval names and lengths (SPEC §2.2)."""
from __future__ import annotations

MINUTE_MS = 60_000

INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS, "1h": 60 * MINUTE_MS, "2h": 120 * MINUTE_MS, "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS, "8h": 480 * MINUTE_MS, "12h": 720 * MINUTE_MS, "1d": 1440 * MINUTE_MS,
    "3d": 4320 * MINUTE_MS,
}
CANDLE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h")
FRAME_INTERVALS = CANDLE_INTERVALS + ("12h", "1d", "3d")
STRATEGY_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h")

CANDLE_INTERVAL_MS = {name: INTERVAL_MS[name] for name in CANDLE_INTERVALS}


def align(t: int, interval_ms: int) -> int:
    """Start of the interval that contains ``t``."""
    return t - t % interval_ms
