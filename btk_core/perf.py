"""Performance timings of one pair run (SPEC §7.6, §15, §20.5).

Every timing is appended to the pair's report log as a raw tuple (the ``Performance`` report is complete
without opting in); a ``PerformanceContract`` event is built only when somebody listens. Steps the engine
skips because nothing observes them (SPEC §7.2) are not timed: a performance listener makes them observed.
"""
from __future__ import annotations

import time

from . import clock, events
from .queues import BoundedLog
from .results import PerformanceContract


class PerfTimer:
    """Times the steps of one pair run, chained by ``previous_timestamp``."""

    __slots__ = ("symbol", "strategy_name", "exchange_name", "backtest", "previous", "log")

    def __init__(self, symbol: str, strategy_name: str, exchange_name: str, backtest: bool,
                 log: BoundedLog[tuple] | None = None) -> None:
        self.symbol, self.strategy_name = symbol, strategy_name
        self.exchange_name, self.backtest = exchange_name, backtest
        self.previous: int | None = None
        self.log = log

    start = staticmethod(time.perf_counter)

    def emit(self, metric_type: str, started: float) -> None:
        duration = (time.perf_counter() - started) * 1000
        now = clock.now()
        if self.log is not None:
            self.log.append((now, self.previous, metric_type, duration, self.exchange_name))
        if events.performance.listeners:
            events.performance.emit(PerformanceContract(now, self.previous, metric_type, duration, self.strategy_name,
                                                        self.exchange_name, self.symbol, self.backtest))
        self.previous = now
