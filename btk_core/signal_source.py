"""How a pair asks its strategy for a signal: one ``SignalSource`` per way of answering.

A strategy answers by a plain ``get_signal`` call, by an ``async`` one, or by a batch table computed with
``get_signals``; the pair state machine only calls ``ask(when)``. Each source applies its own rules: a plain
call cannot be interrupted, so a late answer is discarded (SPEC §3.7); a coroutine is cancelled at the budget;
a backtest computes its batch table once for the whole frame, live computes it over the last ``lookback``
candles at each tick. Failures are emitted and answer ``None``.
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import clock
from .batch import SignalTable, compute_table, history
from .candle_store import CandleStore
from .errors import CandleDataError, SignalTimeoutError, wrap_user_error
from .events import emit_error
from .fmt import to_datetime
from .intervals import INTERVAL_MS
from .schemas import StrategySchema

fromtimestamp = datetime.fromtimestamp


class SignalSource:
    """Asks one pair's strategy; ``table`` is the batch table of a backtest (None otherwise)."""

    batch = False
    table: SignalTable | None = None

    def __init__(self, strategy: StrategySchema, symbol: str, budget_ms: float) -> None:
        self.strategy, self.symbol, self.budget_ms = strategy, symbol, budget_ms
        self.strategy_name = strategy.strategy_name

    def ask(self, when: int) -> Any:
        """The strategy's answer at ``when`` (a signal mapping) or None."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds (an event loop)."""

    def _timeout(self) -> None:
        emit_error(SignalTimeoutError(f"Timeout for {self.strategy_name} symbol={self.symbol}"))

    def _failed(self, exc: Exception) -> None:
        emit_error(wrap_user_error(exc, where="get_signal", symbol=self.symbol, strategy_name=self.strategy_name))


class CallSource(SignalSource):
    """A plain ``get_signal(symbol, when)``: it cannot be interrupted, so an answer later than the budget is
    discarded with ``SignalTimeoutError``. This runs once per decision step: kept short."""

    def __init__(self, strategy: StrategySchema, symbol: str, budget_ms: float) -> None:
        super().__init__(strategy, symbol, budget_ms)
        self.fn: Callable[..., Any] = strategy.get_signal  # type: ignore[assignment]
        self.budget_s = budget_ms / 1000

    def ask(self, when: int) -> Any:
        started = clock.seconds()
        try:
            answer = self.fn(self.symbol, fromtimestamp(when / 1000, UTC))  # fmt.to_datetime, inlined
        except Exception as exc:
            self._failed(exc)
            return None
        if clock.seconds() - started > self.budget_s:
            self._timeout()
            return None
        return answer


class CoroutineSource(SignalSource):
    """An ``async def get_signal``, run on the source's own event loop and cancelled at the budget."""

    def __init__(self, strategy: StrategySchema, symbol: str, budget_ms: float) -> None:
        super().__init__(strategy, symbol, budget_ms)
        self._loop: asyncio.AbstractEventLoop | None = None

    def ask(self, when: int) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            return self._loop.run_until_complete(
                asyncio.wait_for(self.strategy.get_signal(self.symbol, to_datetime(when)),  # type: ignore[misc]
                                 self.budget_ms / 1000))
        except TimeoutError:
            self._timeout()
        except Exception as exc:
            self._failed(exc)
        return None

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None


class TableSource(SignalSource):
    """``get_signals(symbol, candles) -> DataFrame``: a backtest loads the table once (``load``); live, which has
    no table, computes one over the last ``lookback`` closed candles at each step."""

    batch = True

    def __init__(self, strategy: StrategySchema, symbol: str, budget_ms: float, store: CandleStore) -> None:
        super().__init__(strategy, symbol, budget_ms)
        self.store = store
        self.interval_ms = INTERVAL_MS[strategy.interval]
        self.get_signals: Callable[..., Any] = strategy.get_signals  # type: ignore[assignment]

    def load(self, first: int, last: int) -> None:
        """Compute the signals once for the decision times ``first..last`` from the candles closed by ``last``,
        with ``lookback`` candles of history before ``first``."""
        try:
            candles = history(self.store, self.symbol, self.strategy, first, last)
        except CandleDataError as exc:
            emit_error(exc)
            self.table = SignalTable({}, self.interval_ms)
            return
        self.table = compute_table(self.get_signals, self.symbol, candles, interval_ms=self.interval_ms,
                                   strategy_name=self.strategy_name)

    def ask(self, when: int) -> Any:
        table = self.table
        if table is None:
            try:
                candles = self.store.last_closed(self.symbol, self.strategy.interval, self.strategy.lookback, when)
            except CandleDataError as exc:
                emit_error(exc)
                return None
            table = compute_table(self.get_signals, self.symbol, candles, interval_ms=self.interval_ms,
                                  strategy_name=self.strategy_name)
        return table.answer(when)


def signal_source(strategy: StrategySchema, symbol: str, budget_ms: float, store: CandleStore) -> SignalSource:
    """The source that asks ``strategy`` the way it answers."""
    if strategy.get_signals is not None:
        return TableSource(strategy, symbol, budget_ms, store)
    if inspect.iscoroutinefunction(strategy.get_signal):
        return CoroutineSource(strategy, symbol, budget_ms)
    return CallSource(strategy, symbol, budget_ms)
