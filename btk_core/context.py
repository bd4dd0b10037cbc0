"""The execution context of a run and the helpers that read it (SPEC §17.3).

A run installs one :class:`RunContext` in a ``ContextVar`` and updates its
``symbol``/``when``/``strategy_name`` fields as it steps, so a helper costs one
``ContextVar.get`` plus the store lookup. Threads and event loops that run user
code copy the context (``contextvars.copy_context``), so the helpers work there too.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from .candle_store import CandleStore
from .candles import Candles
from .config import ConfigSnapshot
from .errors import ContextError
from .fmt import to_datetime
from .intervals import CANDLE_INTERVAL_MS
from .schemas import ExchangeSchema


@dataclass(eq=False)
class RunContext:
    """Where a run is: its resources (store, config, exchange) and the current decision point."""

    store: CandleStore
    cfg: ConfigSnapshot
    exchange: ExchangeSchema
    backtest: bool
    frame_name: str | None = None
    symbol: str = ""
    strategy_name: str = ""
    when: int = 0

    @property
    def exchange_name(self) -> str:
        return self.exchange.exchange_name


_current: ContextVar[RunContext | None] = ContextVar("btk_run_context", default=None)


@contextmanager
def run_context(ctx: RunContext) -> Iterator[RunContext]:
    """Make ``ctx`` the current context for the duration of the block."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def current(helper: str) -> RunContext:
    ctx = _current.get()
    if ctx is None:
        raise ContextError(f"{helper}() can only be called inside a run "
                           "(get_signal, a callback or a listener called by a run)")
    return ctx


def get_candles(symbol: str, interval: str, limit: int) -> Candles:
    """The last ``limit`` candles of ``interval`` closed at the current decision time."""
    ctx = _current.get()
    if ctx is None:
        ctx = current("get_candles")  # raises ContextError
    if interval not in CANDLE_INTERVAL_MS:
        raise ValueError(f"interval must be one of {list(CANDLE_INTERVAL_MS)}, got {interval!r}")
    if type(limit) is not int or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    return ctx.store.last_closed(symbol, interval, limit, ctx.when)


def get_average_price(symbol: str) -> float:
    """VWAP of the last closed 1m candles at the current decision time (SPEC §2.9)."""
    ctx = current("get_average_price")
    return ctx.store.vwap(symbol, ctx.when)


def format_price(symbol: str, price: float) -> str:
    """The exchange's price formatting, ``f"{price:.8f}"`` when it has none."""
    fn = current("format_price").exchange.format_price
    return fn(symbol, price) if fn is not None else f"{price:.8f}"


def format_quantity(symbol: str, quantity: float) -> str:
    """The exchange's quantity formatting, ``f"{quantity:.8f}"`` when it has none."""
    fn = current("format_quantity").exchange.format_quantity
    return fn(symbol, quantity) if fn is not None else f"{quantity:.8f}"


def get_date() -> datetime:
    """The current decision time as an aware UTC datetime."""
    return to_datetime(current("get_date").when)


def get_mode() -> str:
    """``"backtest"`` or ``"live"``."""
    return "backtest" if current("get_mode").backtest else "live"
