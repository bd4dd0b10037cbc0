"""Candles from any ccxt exchange, cached as parquet per symbol, interval and month.

A month that has fully closed is downloaded once (explicit since/limit pages) and kept in
``<cache_dir>/<exchange_id>/<safe(symbol)>/<interval>/<YYYY-MM>.parquet``, so a second backtest
of the same range reads no network. The current month is read from the exchange each time, and
only the range asked for. Network errors and rate limits (HTTP 429) are retried with exponential
backoff through the clock hook; ccxt is imported when the exchange is registered, never by
``import btk_core``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import clock
from ..fmt import safe_name
from ..intervals import CANDLE_INTERVAL_MS
from ..registry import add_exchange
from ..schemas import ExchangeSchema

log = logging.getLogger("btk")
Row = list[Any]


def _month_start(t: int) -> int:
    d = datetime.fromtimestamp(t / 1000, UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)


def _next_month(start: int) -> int:
    d = datetime.fromtimestamp(start / 1000, UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def fetch_page(exchange: Any, symbol: str, interval: str, since: int, limit: int, *, retries: int,
               backoff_s: float) -> list[Row]:
    """One ``fetch_ohlcv`` page; network errors and rate limits are retried with exponential backoff, an
    unknown symbol fails at once."""
    import ccxt
    transient = (ccxt.NetworkError, ccxt.ExchangeNotAvailable)
    for attempt in range(retries + 1):
        try:
            return exchange.fetch_ohlcv(symbol, interval, since=since, limit=limit)
        except ccxt.BadSymbol as exc:
            raise ValueError(f"unknown symbol {symbol!r} on {exchange.id}: {exc}") from exc
        except transient as exc:
            if attempt == retries:
                raise
            delay = backoff_s * 2 ** attempt
            log.warning("%s fetch_ohlcv %s %s since=%d failed (%s); retrying in %.2fs", exchange.id,
                        symbol, interval, since, type(exc).__name__, delay)
            clock.pause(delay)
    raise AssertionError("unreachable")


def fetch_range(exchange: Any, symbol: str, interval: str, start: int, end: int, *, page_limit: int = 1000,
                retries: int = 4, backoff_s: float = 0.5,
                on_page: Callable[[list[Row]], None] | None = None) -> list[Row]:
    """Every candle of ``[start, end)`` that has closed, page by page with explicit since/limit (ccxt's own
    pagination computes its window from "now"); ``on_page`` sees each page as it arrives."""
    step = CANDLE_INTERVAL_MS[interval]
    end = min(end, clock.now() - clock.now() % step)
    rows: list[Row] = []
    since = start
    while since < end:
        page = fetch_page(exchange, symbol, interval, since, min(page_limit, (end - since) // step),
                          retries=retries, backoff_s=backoff_s)
        page = [r for r in page if since <= r[0] < end]
        if not page:
            break
        rows += page
        if on_page is not None:
            on_page(page)
        since = int(page[-1][0]) + step
    return rows


class CcxtSource:
    """The ``get_candles`` of a ccxt exchange, with paging, retries and the month cache."""

    def __init__(self, exchange: Any, cache_dir: str, page_limit: int, retries: int, backoff_s: float) -> None:
        self.exchange = exchange
        self.root = Path(cache_dir) / exchange.id
        self.page_limit = page_limit
        self.retries = retries
        self.backoff_s = backoff_s

    # ---- network ----------------------------------------------------------------------
    def _download(self, symbol: str, interval: str, start: int, end: int) -> list[Row]:
        """Every candle of ``[start, end)`` that has closed, page by page with explicit since/limit."""
        return fetch_range(self.exchange, symbol, interval, start, end, page_limit=self.page_limit,
                           retries=self.retries, backoff_s=self.backoff_s)

    # ---- cache ------------------------------------------------------------------------
    def _path(self, symbol: str, interval: str, month: int) -> Path:
        label = datetime.fromtimestamp(month / 1000, UTC).strftime("%Y-%m")
        return self.root / safe_name(symbol) / interval / f"{label}.parquet"

    def _month(self, symbol: str, interval: str, month: int) -> list[Row]:
        path = self._path(symbol, interval, month)
        if path.is_file():
            import pyarrow.parquet as pq
            return [list(r) for r in zip(*(c.to_pylist() for c in pq.read_table(path).columns))]
        rows = self._download(symbol, interval, month, _next_month(month))
        well_formed = all(all(isinstance(x, (int, float)) for x in r[:6]) for r in rows)
        if well_formed:  # a row ccxt could not parse is reported by the engine, never cached
            self._write(path, rows)
        return rows

    @staticmethod
    def _write(path: Path, rows: list[Row]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq
        names = ["timestamp", "open", "high", "low", "close", "volume"]
        columns = list(zip(*rows)) if rows else [()] * 6
        table = pa.table({n: pa.array(col, type=pa.int64() if n == "timestamp" else pa.float64())
                          for n, col in zip(names, columns)})
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        pq.write_table(table, temp)
        os.replace(temp, path)

    # ---- the source ---------------------------------------------------------------------
    def __call__(self, symbol: str, interval: str, since: int, limit: int) -> list[Row]:
        if interval not in getattr(self.exchange, "timeframes", {}):
            raise ValueError(f"interval {interval!r} is not offered by {self.exchange.id} "
                             f"(timeframes: {sorted(self.exchange.timeframes)})")
        step = CANDLE_INTERVAL_MS[interval]
        end = since + limit * step
        now = clock.now()
        out: list[Row] = []
        month = _month_start(since)
        while month < end and len(out) < limit:
            month_end = _next_month(month)
            if month_end <= now - now % step:  # every candle of the month has closed: use the cache
                rows = self._month(symbol, interval, month)
            else:
                rows = self._download(symbol, interval, max(since, month), min(end, month_end))
            out += [r for r in rows if since <= r[0] < end]
            month = month_end
        return out[:limit]


def add_ccxt_exchange(exchange_name: str, exchange_id: str = "binance", *, cache_dir: str = "./dump/cache",
                      exchange: Any = None, config: dict[str, Any] | None = None, page_limit: int = 1000,
                      retries: int = 4, backoff_s: float = 0.5, note: str | None = None,
                      callbacks: object = None) -> ExchangeSchema:
    """Register a ccxt exchange (by id, or a ready ``exchange`` object) as a candle source."""
    import ccxt
    if exchange is None:
        if exchange_id not in ccxt.exchanges:
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
        exchange = getattr(ccxt, exchange_id)({"enableRateLimit": True, **(config or {})})
    source = CcxtSource(exchange, cache_dir, page_limit, retries, backoff_s)

    def fingerprint(symbol: str, interval: str, start: int, end: int) -> str:
        """Closed candles of an exchange do not change (closed months are cached as such)."""
        return f"ccxt:{exchange.id}"

    return add_exchange(exchange_name=exchange_name, get_candles=source,
                        note=note or f"ccxt {exchange.id}, cached in {cache_dir}", callbacks=callbacks,
                        fingerprint=fingerprint)
