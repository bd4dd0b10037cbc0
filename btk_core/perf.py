"""Performance events of one pair run (SPEC §15): timed only when somebody listens."""
from __future__ import annotations

import time

from . import clock, events
from .results import PerformanceContract


class PerfTimer:
    """Emits ``PerformanceContract`` events chained by ``previous_timestamp``."""

    def __init__(self, symbol: str, strategy_name: str, exchange_name: str, backtest: bool) -> None:
        self.symbol, self.strategy_name = symbol, strategy_name
        self.exchange_name, self.backtest = exchange_name, backtest
        self.previous: int | None = None

    @staticmethod
    def start() -> float:
        return time.perf_counter() if events.performance.listeners else 0.0

    def emit(self, metric_type: str, started: float) -> None:
        if not events.performance.listeners or not started:
            return
        duration = (time.perf_counter() - started) * 1000
        now = clock.now()
        events.performance.emit(PerformanceContract(now, self.previous, metric_type, duration, self.strategy_name,
                                                    self.exchange_name, self.symbol, self.backtest))
        self.previous = now
