"""``check_data``: does a source have 1m candles for a symbol inside a frame, before a backtest finds out?

A backtest never fails because of data (SPEC §7.5): a symbol the source does not have, a frame in the
future or timestamps in the wrong unit give an empty run full of N/A. Orchestrators ask this first, on a
few blocks spread over the frame (the first, the last and up to eight between), so a run that cannot work
fails in seconds with one line, and an empty pair is named instead of silently reported as N/A.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import clock
from .candle_store import CandleStore
from .config import snapshot
from .fmt import iso
from .intervals import MINUTE_MS
from .modes.backtest import frame_bounds
from .registry import lookup

PROBES = 10


@dataclass(frozen=True)
class DataCheck:
    """What ``check_data`` found. ``candles`` counts the 1m candles of the probed blocks inside the frame;
    ``message`` says in one line what is wrong (empty when candles were found)."""

    symbol: str
    exchange_name: str
    frame_name: str
    start: int
    end: int
    candles: int
    message: str

    @property
    def ok(self) -> bool:
        return self.candles > 0


def check_data(symbol: str, exchange_name: str, frame_name: str) -> DataCheck:
    """Probe the source's 1m candles of ``symbol`` over the frame. Raises ``CandleFetchError`` at once when
    the source cannot be used (a contract violation, an unusable file) or keeps failing; returns a
    ``DataCheck`` whose ``message`` names the symbol, exchange and frame, and the source's first candle when
    it has one elsewhere, when no probed block holds a candle of the frame."""
    exchange = lookup("exchange", exchange_name)
    frame = lookup("frame", frame_name)
    cfg = snapshot()
    start, step, count = frame_bounds(frame, clock.now())
    end = start + max(count - 1, 0) * step + step  # the frame's last step plus one step of candles
    store = CandleStore(exchange, cfg)
    span = cfg.CC_CANDLE_BLOCK_SIZE * MINUTE_MS
    first, last = start // span, max(start, min(end, clock.now()) - 1) // span
    blocks = sorted({first, last, *(first + (last - first) * k // (PROBES - 1) for k in range(PROBES))})
    found = 0
    try:
        for k in blocks if count else []:
            lo, hi = max(start, k * span), min(end, (k + 1) * span)
            found += sum(len(cols[0]) for cols in store.iter_window(symbol, "1m", lo, hi))
            if found:
                break
    finally:
        store.release()
    message = "" if found else _no_candles(exchange, symbol, exchange_name, frame_name, start, end, count)
    return DataCheck(symbol, exchange_name, frame_name, start, end, found, message)


def _no_candles(exchange, symbol: str, exchange_name: str, frame_name: str, start: int, end: int, count: int) -> str:
    where = f"no 1m candles for symbol={symbol} on exchange={exchange_name} in frame={frame_name}"
    if not count:
        return f"{where}: the frame starts at {iso(start)}, after now"
    hint = ""
    try:  # only a hint: a source may not answer a request from the epoch
        answer = exchange.get_candles(symbol, "1m", 0, 1)
        from .candles import to_columns
        ts = to_columns(answer)[0]
        hint = (f"; the source's first 1m candle of {symbol} is at {iso(int(ts[0]))}" if len(ts)
                else f"; the source has no 1m candles of {symbol}")
    except Exception:
        pass
    return f"{where} ({iso(start)} to {iso(end)}){hint}"
