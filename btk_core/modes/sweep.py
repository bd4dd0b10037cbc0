"""The trades of a pair nobody observes, computed from its signals and the candles without notices in between.

When a pair is alone in its run and unobserved (``PairMachine.unobserved``: no callback, risk profile or
listener, and no progress or performance listener), nobody can see what happens between a signal and its
close. The sweep asks the strategy at each due step (a batch table jumps straight to its next row), and when a
market entry comes it finds the close with ``position_hit`` over the run's 1m columns and records the ``closed``
result: the results and reports of the general loop in ``backtest.py`` (tests compare them) without its
per-notice work. A limit entry, or a position the data does not resolve, is taken by the machine as usual and
handed to the general loop (``HELD``), as is the next step when somebody starts to observe the pair or stops
it; the general loop hands the pair back after its next close.
"""
from __future__ import annotations

import time
from collections.abc import Generator
from typing import Final

from .. import clock, events
from ..batch import chain_period
from ..errors import CandleDataError
from ..evaluate import position_hit
from ..intervals import MINUTE_MS
from ..pair_machine import PairMachine
from ..results import ClosedResult, CloseReason
from ..signals import SignalRow
from .lanes import FRAME, Lane, Run

#: the sweep's answer when the pair now holds a row for the general loop to plan
HELD: Final = (-1, -1)


def can_sweep(run: Run) -> bool:
    """The run's shape allows the sweep: a single pair (several pairs share one time order)."""
    return len(run.lanes) == 1


def next_batch_index(m: PairMachine, i: int, run: Run) -> int:
    """The frame index of the next due step at or after ``i`` that has a batch signal (``run.total`` if none):
    the steps in between would only ask the table and get no answer."""
    period = chain_period(m.interval_ms, run.step)
    if period is None:
        return i
    at = m.table.next_step(run.start + i * run.step, period)  # type: ignore[union-attr]
    return run.total if at is None else min(run.total, (at - run.start) // run.step)


def _observed(m: PairMachine) -> bool:
    return (m.stopped or not m.unobserved() or bool(events.backtest_progress.listeners)
            or bool(events.performance.listeners))


class _Candles:
    """The run's 1m timestamps, highs and lows up to ``loaded_to``: the blocks its prefetch loaded, one view. The
    sweep never reads the source itself: a position that needs more goes to the general loop, which reads (and
    retries, and reports) as usual."""

    def __init__(self, m: PairMachine, run: Run) -> None:
        wanted = min(clock.now(), run.start + run.total * run.step + m.cfg.CC_MAX_SIGNAL_LIFETIME_MINUTES * MINUTE_MS)
        self.loaded_to = m.store.loaded_until(m.symbol, "1m", run.start, wanted)
        self.ts, _o, self.high, self.low, _c, _v = m.store.window(m.symbol, "1m", run.start, self.loaded_to)

    def close_of(self, m: PairMachine, row: SignalRow) -> tuple[int, CloseReason, float, int] | None:
        """How the position ``row`` (just opened) closes: ``(time, reason, price, end of the candles it lived
        through)``, exactly as ``PairMachine.position_plan`` finds it; None when the data does not resolve it."""
        when = row.pending_at
        horizon = clock.now()
        expires_at = when + row.minute_estimated_time * MINUTE_MS
        end = min(expires_at, horizon)
        if end > self.loaded_to:
            return None
        j0, j1 = self.ts.searchsorted(when), self.ts.searchsorted(end - MINUTE_MS + 1)
        hit = position_hit(row, self.high[j0:j1], self.low[j0:j1], m.cfg.CC_SAME_CANDLE_PRIORITY)
        if hit is not None:
            at = int(self.ts[j0 + hit.index])
            return at + MINUTE_MS, hit.reason, hit.price, at
        if horizon < expires_at:  # the position outlives the data (SPEC §7.4)
            return None
        try:
            return expires_at, "time_expired", m.store.vwap(m.symbol, expires_at), expires_at
        except CandleDataError:
            return None


def sweep(lane: Lane, run: Run) -> Generator[ClosedResult, None, tuple[int, int] | None]:
    """Trade the lane from its frame position; returns its next event: a step handed to the general loop,
    ``HELD``, or None when the frame is done."""
    m = lane.machine
    if m.holds or _observed(m):  # a held row: the general loop retries its plan (SPEC §7.5)
        return _hand_over(lane, run)
    ends: list[float] = []  # the timings of the steps without a signal, recorded in one go
    durations: list[float] = []
    try:
        return (yield from _trade(lane, run, ends, durations))
    finally:
        lane.perf.emit_steps("backtest_timeframe", ends, durations)


def _trade(lane: Lane, run: Run, ends: list[float],
           durations: list[float]) -> Generator[ClosedResult, None, tuple[int, int] | None]:
    m = lane.machine
    start, step, total = run.start, run.step, run.total
    ask_row, next_due, counter = m.ask_row, m.next_due, time.perf_counter  # this loop runs once per step
    batch = m.table is not None
    seen = events.generation  # listeners are checked again only when somebody (un)subscribed
    while True:
        if run.dirty or m.stopped:
            return _hand_over(lane, run)
        if events.generation != seen:
            if _observed(m):
                return _hand_over(lane, run)
            seen = events.generation
        i, due_at = lane.i, next_due()
        if due_at is not None and due_at > start + i * step:
            i = -(-(due_at - start) // step)
        if batch and i < total:
            i = next_batch_index(m, i, run)
        lane.i = i
        if i >= total:
            return None
        when = start + i * step
        started = counter()
        found = ask_row(when)
        if found is None:
            end = counter()
            ends.append(end)
            durations.append((end - started) * 1000)
            lane.i = i + 1
            continue
        lane.started = started
        row, price = found
        observed = events.generation != seen and _observed(m)  # get_signal may have subscribed a listener
        close = None if row.is_scheduled or observed else _candles(lane, run).close_of(m, row)
        if close is None:
            m.take(row, price, when)
            return HELD
        close_at, reason, close_price, lived_to = close
        m.cursor = close_at
        m.defer_partials(row, when, lived_to)
        result = m.closed_result(row, close_price, close_at, reason)
        m.record(result)
        yield result
        lane.perf.emit_steps("backtest_timeframe", ends, durations)  # the steps before it, in their order
        ends.clear()
        durations.clear()
        lane.perf.emit("backtest_signal", lane.started)
        lane.i = max(i, -(-(close_at - start) // step))


def _candles(lane: Lane, run: Run) -> _Candles:
    """The lane's candles, taken when its first position needs them."""
    if lane.candles is None:
        lane.candles = _Candles(lane.machine, run)
    return lane.candles


def _hand_over(lane: Lane, run: Run) -> tuple[int, int]:
    """Give the lane's current step to the general loop (it goes on from there until its next close)."""
    lane.handed_over = True
    return run.start + lane.i * run.step, FRAME
