"""The trades of a batch pair nobody observes, read straight from its signal table and the candles.

When a batch strategy's pair is alone in its run and unobserved (``PairMachine.unobserved``: no callback, risk
profile or listener, and no progress or performance listener), nothing can see the notices between a signal and
its close. The sweep asks the table for the next due row, validates it with ``build_row``, finds its close with
``position_hit`` over the run's 1m columns and records the ``closed`` result: the results of the general loop in
``backtest.py`` (tests compare them) without its per-notice work. Whatever it does not handle — a limit entry,
an invalid row, a missing price, a position the data does not resolve, a stop, somebody starting to listen —
it hands to the general loop at that step, before changing any state; the general loop hands the pair back
when its next position has closed.
"""
from __future__ import annotations

import time
from collections.abc import Generator

from .. import clock, events
from ..batch import chain_period
from ..errors import CandleDataError, SignalValidationError
from ..evaluate import position_hit
from ..intervals import MINUTE_MS
from ..pair_machine import PairMachine
from ..results import ClosedResult, CloseReason
from ..signals import build_row
from .lanes import FRAME, Lane, Run


def can_sweep(lane: Lane, run: Run) -> bool:
    """The run's shape allows the sweep: one batch pair whose due steps the table can jump between."""
    m = lane.machine
    return len(run.lanes) == 1 and m.table is not None and chain_period(m.interval_ms, run.step) is not None


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


def sweep(lane: Lane, run: Run) -> Generator[ClosedResult, None, tuple[int, int] | None]:
    """Trade the lane's table from its frame position; returns its next event (a step handed to the general
    loop) or None when the frame is done."""
    m = lane.machine
    table, store, cfg, symbol = m.table, m.store, m.cfg, m.symbol
    assert table is not None
    start, step, total = run.start, run.step, run.total
    priority = cfg.CC_SAME_CANDLE_PRIORITY
    loaded_to = min(clock.now(), start + total * step + cfg.CC_MAX_SIGNAL_LIFETIME_MINUTES * MINUTE_MS)
    try:
        ts, _o, high, low, _c, _v = store.window(symbol, "1m", start, loaded_to)
    except CandleDataError:
        return _hand_over(lane, run)
    while True:
        if run.dirty or _observed(m):
            return _hand_over(lane, run)
        i, due_at = lane.i, m.next_due()
        if due_at is not None and due_at > start + i * step:
            i = -(-(due_at - start) // step)
        if i < total:
            i = next_batch_index(m, i, run)
        lane.i = i
        if i >= total:
            return None
        when = start + i * step
        lane.started = time.perf_counter()
        answer = table.answer(when)
        if answer is None or answer.get("price_open") is not None:
            return _hand_over(lane, run)
        try:
            price = store.vwap(symbol, when)
            row = build_row(answer, current_price=price, when=when, symbol=symbol, exchange_name=m.exchange_name,
                            strategy_name=m.strategy_name, cfg=cfg)
        except (CandleDataError, SignalValidationError):
            return _hand_over(lane, run)
        horizon = clock.now()
        expires_at = when + row.minute_estimated_time * MINUTE_MS
        end = min(expires_at, horizon)
        if end > loaded_to:
            return _hand_over(lane, run)
        j0, j1 = ts.searchsorted(when), ts.searchsorted(end - MINUTE_MS + 1)
        hit = position_hit(row, high[j0:j1], low[j0:j1], priority)
        reason: CloseReason
        if hit is not None:
            close_at, reason, close_price = int(ts[j0 + hit.index]) + MINUTE_MS, hit.reason, hit.price
        elif horizon >= expires_at:
            try:
                close_at, reason, close_price = expires_at, "time_expired", store.vwap(symbol, expires_at)
            except CandleDataError:
                return _hand_over(lane, run)
        else:  # the position outlives the data: the general loop reports it (SPEC §7.4)
            return _hand_over(lane, run)
        m.last_call, m.cursor = when, close_at
        m.defer_partials(row, when, close_at - MINUTE_MS if hit is not None else expires_at)
        result = m.closed_result(row, close_price, close_at, reason)
        m.record(result)
        yield result
        lane.perf.emit("backtest_signal", lane.started)
        lane.i = max(i, -(-(close_at - start) // step))


def _hand_over(lane: Lane, run: Run) -> tuple[int, int]:
    """Give the lane's current step to the general loop (it goes on from there until its next close)."""
    lane.handover = run.start + lane.i * run.step
    return lane.handover, FRAME
