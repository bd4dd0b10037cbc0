"""Performance timings of one pair run (SPEC §7.6, §15, §20.5).

Every timing is recorded in the pair's report log as numbers (the ``Performance`` report is complete
without opting in); a ``PerformanceContract`` event is built only when somebody listens. Steps the engine
skips because nothing observes them (SPEC §7.2) are not timed: a performance listener makes them observed.
"""
from __future__ import annotations

import time

from . import clock, events
from .queues import TimingLog
from .results import PerformanceContract


class PerfTimer:
    """Times the steps of one pair run, chained by ``previous_timestamp``. The log keeps ``perf_counter``
    readings (cheaper than the wall clock at every step) with the wall time they started from, and the report
    store turns them into wall milliseconds when they are read."""

    __slots__ = ("symbol", "strategy_name", "exchange_name", "backtest", "previous", "log", "wall", "counter")

    def __init__(self, symbol: str, strategy_name: str, exchange_name: str, backtest: bool,
                 log: TimingLog | None = None) -> None:
        self.symbol, self.strategy_name = symbol, strategy_name
        self.exchange_name, self.backtest = exchange_name, backtest
        self.previous: float | None = None
        self.log = log
        self.wall, self.counter = clock.now(), time.perf_counter()  # the same instant on both clocks
        if log is not None:
            log.origin = (self.wall, self.counter)

    start = staticmethod(time.perf_counter)

    def emit(self, metric_type: str, started: float) -> None:
        end = time.perf_counter()
        duration = (end - started) * 1000
        if self.log is not None:
            self.log.record(end, self.previous, metric_type, duration, self.exchange_name)
        if events.performance.listeners:
            previous = None if self.previous is None else self.wall_ms(self.previous)
            events.performance.emit(PerformanceContract(self.wall_ms(end), previous, metric_type, duration,
                                                        self.strategy_name, self.exchange_name, self.symbol,
                                                        self.backtest))
        self.previous = end

    def emit_steps(self, metric_type: str, ends: list[float], durations: list[float]) -> None:
        """Record timings measured in a loop nobody observes (no performance listener): ``ends`` are their
        ``perf_counter`` readings, each chained to the one before, ``durations`` their milliseconds. Kept in
        two lists of floats, a step's timing costs two appends; this stores them in one go."""
        if not ends:
            return
        if self.log is not None:
            self.log.record_many(ends, self.previous, metric_type, durations, self.exchange_name)
        self.previous = ends[-1]

    def wall_ms(self, counter: float) -> int:
        return wall_ms(counter, (self.wall, self.counter))


def wall_ms(counter: float, origin: tuple[int, float]) -> int:
    """A ``perf_counter`` reading as wall milliseconds, from an instant read on both clocks."""
    return origin[0] + round((counter - origin[1]) * 1000)
