"""A candle source over candles already in memory (DataFrames or arrays), e.g. in a notebook or a benchmark."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..candles import Candles
from ..errors import UnknownSymbolError
from ..fmt import readable_price
from ..registry import add_exchange
from ..schemas import ExchangeSchema
from .columns import IntervalColumns, answer, as_columns, content_digest


def add_memory_exchange(exchange_name: str, candles: Mapping[str, Any], *, note: str | None = None,
                        callbacks: object = None) -> ExchangeSchema:
    """Register a source serving ``candles[symbol]``: the symbol's 1m candles (a DataFrame, ``Candles`` or a
    mapping of the columns ``timestamp, open, high, low, close, volume``); other intervals are aggregated from
    them once. Columns that already are int64/float64 in time order are used in place, read-only."""
    if not isinstance(candles, Mapping) or not candles:
        raise TypeError(f"candles must be a non-empty mapping of symbol -> 1m candles, got {type(candles).__name__}")
    base = {symbol: as_columns(frame) for symbol, frame in candles.items()}
    series = IntervalColumns(lambda symbol, interval: base[symbol] if interval == "1m" else None)

    def get_candles(symbol: str, interval: str, since: int, limit: int) -> Candles:
        if symbol not in base:
            raise UnknownSymbolError(f"no candles for symbol {symbol!r}; this exchange has {sorted(base)}")
        return answer(series.get(symbol, interval), since, limit)

    digests: dict[str, str] = {}

    def fingerprint(symbol: str, interval: str, start: int, end: int) -> str:
        """A hash of the symbol's columns (read-only in place: they cannot change under us)."""
        if symbol not in digests:
            cols = base.get(symbol)
            digests[symbol] = "none" if cols is None else content_digest(cols)
        return f"memory:{digests[symbol]}"

    return add_exchange(exchange_name=exchange_name, get_candles=get_candles, format_price=readable_price,
                        note=note or f"candles in memory for {len(base)} symbol(s)", callbacks=callbacks,
                        fingerprint=fingerprint)
