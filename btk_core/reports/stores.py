"""The report stores, fed by the engine's own results (SPEC §14).

Schedule and heat stores are fed through the pair machines' sinks (one call per result,
cheap). Partial milestones and performance timings are recorded in every run (SPEC §20.5) into
per-run logs the machines and timers append raw tuples to; ``get_data`` builds the contracts, so
recording costs a tuple per event and keeps the engine's "unobserved work is skipped" shortcuts.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

from ..queues import BoundedLog, KeyedLogs, KeyedQueues, TimingLog
from ..results import (
    CancelledResult,
    ClosedResult,
    OpenedResult,
    PartialContract,
    PerformanceContract,
    ScheduledResult,
)
from ..risk import RiskContract

SCHEDULE: KeyedQueues[Any] = KeyedQueues()      # (symbol, strategy, backtest)
RISK: KeyedQueues[RiskContract] = KeyedQueues()  # (symbol, strategy, backtest): rejections, newest first
#: (symbol, strategy, backtest) -> runs of milestones of one position side:
#: (row, exchange_name, kind, levels, timestamps, prices), see ``partial_contracts``
PARTIAL: KeyedLogs[BoundedLog[tuple]] = KeyedLogs(BoundedLog)
#: (symbol, strategy, backtest) -> (timestamp, previous_timestamp, metric_type, duration, exchange_name)
PERFORMANCE: KeyedLogs[TimingLog] = KeyedLogs(TimingLog)


class HeatStore:
    """Closed trades per (strategy, backtest) and symbol, in arrival order, bounded per symbol."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trades: dict[tuple[str, bool], dict[str, list[ClosedResult]]] = {}

    def add(self, result: ClosedResult, limit: int) -> None:
        with self._lock:
            trades = self._trades.setdefault((result.strategy_name, result.backtest), {}).setdefault(result.symbol, [])
            trades.append(result)
            if limit and len(trades) > limit:
                del trades[0]

    def pnls_by_symbol(self, strategy_name: str, backtest: bool) -> dict[str, list[float]]:
        """PnL percentages per symbol in time order (close time, ties by arrival)."""
        with self._lock:
            table = {s: list(t) for s, t in self._trades.get((strategy_name, backtest), {}).items()}
        return {s: [r.pnl.pnl_percentage for r in sorted(t, key=lambda r: r.close_timestamp)] for s, t in table.items()}

    def clear_row(self, strategy_name: str, backtest: bool, symbol: str) -> None:
        with self._lock:
            self._trades.get((strategy_name, backtest), {}).pop(symbol, None)

    def clear_all(self) -> None:
        with self._lock:
            self._trades.clear()


HEAT = HeatStore()


class LiveQueue:
    """The live event queue per (symbol, strategy), newest first (SPEC §14): a new ``idle`` replaces a
    newest ``idle``, a new ``active`` replaces a newest ``active`` of the same signal, anything else is
    prepended, then the queue is cut to ``CC_LIVE_MAX_EVENTS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], deque[Any]] = {}

    def add(self, result: Any, limit: int) -> None:
        with self._lock:
            queue = self._items.setdefault((result.symbol, result.strategy_name), deque())
            newest = queue[0] if queue else None
            if newest is not None and newest.action == result.action and (
                    result.action == "idle" or (result.action == "active" and newest.signal.id == result.signal.id)):
                queue[0] = result
                return
            queue.appendleft(result)
            while len(queue) > limit:
                queue.pop()

    def items(self, symbol: str, strategy_name: str) -> list[Any]:
        with self._lock:
            return list(self._items.get((symbol, strategy_name), ()))

    def clear(self, symbol: str, strategy_name: str) -> None:
        with self._lock:
            self._items.pop((symbol, strategy_name), None)

    def clear_all(self) -> None:
        with self._lock:
            self._items.clear()


LIVE = LiveQueue()


def record_result(result: Any, cfg: Any) -> None:
    """The "report stores" slot of §4.6: schedule, heat, the live queue and risk rejections (SPEC §13.5),
    for backtest and live alike."""
    key = (result.symbol, result.strategy_name, result.backtest)
    if isinstance(result, RiskContract):
        RISK.add(key, result, cfg.CC_RISK_MAX_EVENTS)
        return
    if not result.backtest:
        LIVE.add(result, cfg.CC_LIVE_MAX_EVENTS)
    if isinstance(result, ClosedResult):
        HEAT.add(result, cfg.CC_HEAT_MAX_TRADES_PER_SYMBOL)
    if isinstance(result, (ScheduledResult, CancelledResult)) or (
            isinstance(result, OpenedResult) and result.signal.was_scheduled):
        SCHEDULE.add(key, result, cfg.CC_SCHEDULE_MAX_EVENTS)


def clear_pair(symbol: str, strategy_name: str, backtest: bool) -> None:
    """A run clears its own stores at start (SPEC §7.8)."""
    key = (symbol, strategy_name, backtest)
    for store in (SCHEDULE, RISK, PARTIAL, PERFORMANCE):
        store.clear(key)
    HEAT.clear_row(strategy_name, backtest, symbol)


def clear_all() -> None:
    """Empty every store (tests; a fresh process starts like this)."""
    for store in (SCHEDULE, RISK, PARTIAL, PERFORMANCE):
        store.clear_all()
    HEAT.clear_all()
    LIVE.clear_all()


def partial_contracts(symbol: str, strategy_name: str, backtest: bool) -> list[PartialContract]:
    """The recorded milestones of a pair, newest first, cut to the queue size: the runs are spread into events
    in event order (by time, profit before loss, ascending levels)."""
    log = PARTIAL.get((symbol, strategy_name, backtest))
    if log is None:
        return []
    events = sorted(((at, kind != "profit", level, price, row, exchange, kind)
                     for row, exchange, kind, levels, ats, prices in log.items.copy()
                     for level, at, price in zip(levels, ats, prices)), key=lambda e: e[:3])
    newest = events[::-1][:log.limit] if log.limit else events[::-1]
    return [PartialContract(symbol, strategy_name, exchange, row, price, level, backtest, at, kind)
            for at, _, level, price, row, exchange, kind in newest]


def performance_contracts(symbol: str, strategy_name: str, backtest: bool) -> list[PerformanceContract]:
    """The recorded timings of a pair, newest first (``perf_counter`` readings turned into wall ms)."""
    from ..perf import wall_ms
    log = PERFORMANCE.get((symbol, strategy_name, backtest))
    if log is None:
        return []
    origin = log.origin or (0, 0.0)
    return [PerformanceContract(wall_ms(end, origin), None if previous is None else wall_ms(previous, origin), metric,
                                duration, strategy_name, exchange, symbol, backtest)
            for end, previous, metric, duration, exchange in reversed(log.items.copy())]
