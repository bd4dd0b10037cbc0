"""Walker mode (SPEC §12): backtest each strategy of a comparison on one symbol and rank them."""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from .. import events
from ..errors import BtkError, wrap_user_error
from ..events import emit_error
from ..guard import call_user
from ..registry import lookup
from ..results import DoneContract
from ..schemas import WalkerSchema
from ..stats import BacktestStatistics
from .background import consume_in_background
from .backtest import Backtest

log = logging.getLogger("btk")


@dataclass(frozen=True, slots=True)
class WalkerProgress:
    walker_name: str
    exchange_name: str
    frame_name: str
    symbol: str
    total_strategies: int
    processed_strategies: int
    progress: float


@dataclass(frozen=True)
class WalkerContract:
    """One tested strategy, with the best so far."""

    walker_name: str
    exchange_name: str
    frame_name: str
    symbol: str
    strategy_name: str
    stats: BacktestStatistics
    metric_value: float | None
    metric: str
    best_metric: float | None
    best_strategy: str | None
    strategies_tested: int
    total_strategies: int


@dataclass(frozen=True)
class WalkerCompleteContract:
    walker_name: str
    symbol: str
    exchange_name: str
    frame_name: str
    metric: str
    total_strategies: int
    best_strategy: str | None
    best_metric: float | None
    best_stats: BacktestStatistics | None


@dataclass(frozen=True)
class WalkerResults:
    """What ``Walker.get_data`` returns: the completion (None while running) and each tested strategy."""

    complete: WalkerCompleteContract | None
    strategies: list[WalkerContract] = field(default_factory=list)


def metric_of(stats: BacktestStatistics, metric: str) -> float | None:
    return finite(getattr(stats, metric))


def finite(value: object) -> float | None:
    """A metric value the walker can rank (a finite number; counts included), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def improves(value: float | None, best: float | None) -> bool:
    """SPEC §12: only a finite value strictly greater than the best so far replaces it (ties keep the earlier)."""
    return value is not None and (best is None or value > best)


def best_by_metric(values: Sequence[tuple[str, object]]) -> tuple[str | None, float | None]:
    """The winner of ``(strategy, metric value)`` pairs in test order, by the walker's rule."""
    best: str | None = None
    best_value: float | None = None
    for name, value in values:
        if improves(finite(value), best_value):
            best, best_value = name, finite(value)
    return best, best_value


class WalkerApi:
    """``Walker``: compare strategies on one symbol by a metric."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[tuple[str, str], WalkerResults] = {}
        self._stopped: set[tuple[str, str]] = set()
        self._current: dict[tuple[str, str], str] = {}

    def run(self, symbol: str, *, walker_name: str) -> Iterator[WalkerContract]:
        """Backtest every strategy of the walker in order; yields a ``WalkerContract`` per strategy."""
        walker: WalkerSchema = lookup("walker", walker_name)
        lookup("exchange", walker.exchange_name)
        lookup("frame", walker.frame_name)
        for name in walker.strategies:
            lookup("strategy", name)
        key = (symbol, walker_name)
        with self._lock:
            self._results[key] = WalkerResults(None, [])
            self._stopped.discard(key)
        return self._walk(symbol, walker)

    def _walk(self, symbol: str, walker: WalkerSchema) -> Iterator[WalkerContract]:
        key = (symbol, walker.walker_name)
        cb = walker.callbacks
        total = len(walker.strategies)
        best_metric: float | None = None
        best_strategy: str | None = None
        best_stats: BacktestStatistics | None = None
        tested: list[WalkerContract] = []
        processed = 0
        try:
            for strategy_name in walker.strategies:
                if key in self._stopped:
                    break
                self._current[key] = strategy_name
                if "on_strategy_start" in cb:
                    call_user(cb["on_strategy_start"], strategy_name, symbol, where="on_strategy_start",
                              symbol=symbol, strategy_name=strategy_name)
                try:
                    for _ in Backtest.run(symbol, strategy_name=strategy_name, exchange_name=walker.exchange_name,
                                          frame_name=walker.frame_name):
                        pass
                    stats = Backtest.get_data(symbol, strategy_name)
                except Exception as exc:
                    processed += 1
                    err = exc if isinstance(exc, BtkError) else wrap_user_error(
                        exc, where="walker", symbol=symbol, strategy_name=strategy_name)
                    emit_error(err)
                    if "on_strategy_error" in cb:
                        call_user(cb["on_strategy_error"], strategy_name, symbol, exc, where="on_strategy_error",
                                  symbol=symbol, strategy_name=strategy_name)
                    self._progress(walker, symbol, total, processed)
                    continue
                processed += 1
                value = metric_of(stats, walker.metric)
                if improves(value, best_metric):
                    best_metric, best_strategy, best_stats = value, strategy_name, stats
                self._progress(walker, symbol, total, processed)
                if "on_strategy_complete" in cb:
                    call_user(cb["on_strategy_complete"], strategy_name, symbol, stats, value,
                              where="on_strategy_complete", symbol=symbol, strategy_name=strategy_name)
                contract = WalkerContract(walker.walker_name, walker.exchange_name, walker.frame_name, symbol,
                                          strategy_name, stats, value, walker.metric, best_metric, best_strategy,
                                          processed, total)
                tested.append(contract)
                with self._lock:
                    self._results[key] = WalkerResults(None, list(tested))
                events.walker.emit(contract)
                yield contract
        finally:
            self._current.pop(key, None)
            complete = WalkerCompleteContract(walker.walker_name, symbol, walker.exchange_name, walker.frame_name,
                                              walker.metric, total, best_strategy, best_metric, best_stats)
            with self._lock:
                self._results[key] = WalkerResults(complete, list(tested))
            if "on_complete" in cb:
                call_user(cb["on_complete"], complete, where="on_complete", symbol=symbol)
            events.walker_complete.emit(complete)
            events.done_walker.emit(DoneContract(walker.exchange_name, walker.walker_name, True, symbol))

    @staticmethod
    def _progress(walker: WalkerSchema, symbol: str, total: int, processed: int) -> None:
        events.walker_progress.emit(WalkerProgress(walker.walker_name, walker.exchange_name, walker.frame_name,
                                                   symbol, total, processed, processed / total))

    def background(self, symbol: str, *, walker_name: str) -> Callable[[], None]:
        """Run in a daemon thread; returns a function that stops the walker."""
        handle = self.run(symbol, walker_name=walker_name)
        consume_in_background(handle, f"walker-{symbol}-{walker_name}")
        return lambda: self.stop(symbol, walker_name)

    def stop(self, symbol: str, walker_name: str) -> None:
        """Stop the running strategy's backtest and skip the rest; the walker still completes."""
        key = (symbol, walker_name)
        self._stopped.add(key)
        current = self._current.get(key)
        if current is not None:
            Backtest.stop(symbol, current)

    def get_data(self, symbol: str, walker_name: str) -> WalkerResults:
        lookup("walker", walker_name)
        with self._lock:
            results = self._results.get((symbol, walker_name))
        if results is None or (results.complete is None and not results.strategies):
            raise BtkError("No walker data available")
        return results

    def get_report(self, symbol: str, walker_name: str) -> str:
        """The walker comparison report (SPEC §14 #8)."""
        from ..reports.documents import walker_report, walker_rows
        return walker_report(*walker_rows(self.get_data(symbol, walker_name)))

    def dump(self, symbol: str, walker_name: str, path: str = "./dump/walker") -> str:
        """Write the report and a bar chart of the metric per strategy; returns the report path."""
        from ..reports.documents import walker_rows
        from ..reports.writers import write_walker
        return write_walker(*walker_rows(self.get_data(symbol, walker_name)), path)


Walker = WalkerApi()
