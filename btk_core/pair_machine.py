"""The state machine of one (symbol, strategy, mode) pair (SPEC §4, §5).

It owns the pair state (pending / scheduled row, cursor, throttle clock, stop and
cancel flags) and every transition: intake of a new signal, evaluation of a held
row over closed 1m candles, opening, closing and cancelling, each published in
the order of §4.6. Backtest and live drive the same machine; they differ only in
the horizon they evaluate to, in persistence (a ``Persistence`` hook, live only)
and in which results they yield.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np

from . import events
from .batch import SignalTable
from .candle_store import CandleStore
from .context import RunContext
from .errors import CandleDataError, SignalValidationError
from .evaluate import (
    activation_index,
    milestones,
    percent_progress,
    position_hit,
    stop_loss_on,
    window_milestones,
)
from .events import emit_error
from .fmt import to_datetime
from .guard import call_user
from .intervals import INTERVAL_MS, MINUTE_MS
from .notices import Notice
from .pnl import compute_pnl
from .queues import BoundedLog
from .results import (
    ActiveResult,
    CancelledResult,
    CancelReason,
    ClosedResult,
    CloseReason,
    IdleResult,
    OpenedResult,
    PartialContract,
    PingContract,
    Pnl,
    ScheduledResult,
    Side,
    TickResult,
)
from .schemas import StrategySchema
from .signal_source import TableSource, signal_source
from .signals import SignalRow, build_row

log = logging.getLogger("btk")


class RiskCheck(Protocol):
    """What the machine asks of risk profiles (implemented in ``risk.py``)."""

    def allows(self, pair: PairMachine, row: SignalRow, current_price: float, timestamp: int) -> bool: ...
    def add(self, pair: PairMachine, row: SignalRow, timestamp: int) -> None: ...
    def remove(self, pair: PairMachine, row: SignalRow) -> None: ...


@dataclass(slots=True)
class PlanItem:
    """One event of a position's future, computed at once from prices (SPEC §8: "a position's outcome
    depends on prices only"): a milestone, the close, the end of the data (unresolved) or a failure."""

    at: int
    kind: Literal["profit", "loss", "close", "unresolved", "error"]
    level: float = 0.0
    price: float = 0.0
    reason: CloseReason = "time_expired"  # of a close
    error: Exception | None = None
    #: the candles ``[start, end)`` (open times) before this item whose milestones only the report store sees:
    #: computed for all positions at once when the run ends (``flush_partials``)
    quiet: tuple[int, int] | None = None


class NoRisk:
    """The gate of a strategy without risk profiles."""

    def allows(self, pair: PairMachine, row: SignalRow, current_price: float, timestamp: int) -> bool:
        return True

    def add(self, pair: PairMachine, row: SignalRow, timestamp: int) -> None:
        pass

    def remove(self, pair: PairMachine, row: SignalRow) -> None:
        pass


@dataclass(frozen=True, slots=True)
class PairState:
    """What live persists of a pair: its rows, the milestone levels fired by its position and the throttle
    clock (SPEC §9.2, §20.1.2)."""

    pending: SignalRow | None
    scheduled: SignalRow | None
    fired_profit: frozenset[float]
    fired_loss: frozenset[float]
    last_call: int | None


class Persistence(Protocol):
    """Where live writes the pair's state (implemented in ``persist/state.py``). ``commit`` makes a change
    and its notices durable in one atomic write before they are delivered; the live loop calls ``settle``
    once the tick's results have been delivered and yielded (it also persists the throttle clock)."""

    def commit(self, state: PairState, notices: tuple[Notice, ...]) -> None: ...
    def settle(self, state: PairState) -> None: ...


class PairMachine:
    """State and transitions of one pair inside one run."""

    def __init__(self, ctx: RunContext, strategy: StrategySchema, symbol: str, *,
                 risk: RiskCheck | None = None, persistence: Persistence | None = None,
                 sinks: tuple[Callable[[Any], None], ...] = (), partial_log: BoundedLog[tuple] | None = None,
                 orders: Callable[[Notice], None] | None = None) -> None:
        self.ctx = ctx
        self.store: CandleStore = ctx.store
        self.cfg = ctx.cfg
        self.strategy = strategy
        self.strategy_name = strategy.strategy_name
        self.exchange_name = ctx.exchange_name
        self.symbol = symbol
        self.backtest = ctx.backtest
        self.interval_ms = INTERVAL_MS[strategy.interval]
        self.risk = risk or NoRisk()
        self.persistence = persistence
        self.sinks = sinks  # report stores: every result and risk rejection of the pair
        self.partial_log = partial_log  # the report store's milestones (SPEC §20.5)
        self.orders = orders  # live: the order desk, first to hear every notification (and every repeat)
        #: positions whose milestones are computed at the end of the run: [row, start, end, fired profit, loss]
        self.deferred: list[list[Any]] = []
        self.callbacks = strategy.callbacks
        self.mode_topic = events.signal_backtest if ctx.backtest else events.signal_live
        self.idle_callbacks = "on_tick" in self.callbacks or "on_idle" in self.callbacks
        self.partial_callbacks = "on_partial_profit" in self.callbacks or "on_partial_loss" in self.callbacks
        self.source = signal_source(strategy, symbol, self.cfg.CC_MAX_SIGNAL_GENERATION_SECONDS * 1000, self.store)
        self.batch = self.source.batch
        self.table: SignalTable | None = None  # a backtest's batch table (live computes one per tick)
        self.pending: SignalRow | None = None
        self.scheduled: SignalRow | None = None
        self.cursor = 0
        self.last_call: int | None = None
        self.stopped = False
        self.recheck_activation = False  # a restored activated row re-checks its activation candle first
        self.cancel_request: tuple[str | None] | None = None
        self.fired_profit: set[float] = set()
        self.fired_loss: set[float] = set()
        self.outbox: list[TickResult] = []

    # ---- small queries ----------------------------------------------------------
    @property
    def holds(self) -> bool:
        return self.pending is not None or self.scheduled is not None

    def due(self, when: int) -> bool:
        """SPEC §4.3: no row held, not stopped, and the throttle interval has passed."""
        return (self.pending is None and self.scheduled is None and not self.stopped
                and (self.last_call is None or when - self.last_call >= self.interval_ms))

    def next_due(self) -> int | None:
        """When the throttle next lets the strategy be asked (None before its first call, §4.3)."""
        return None if self.last_call is None else self.last_call + self.interval_ms

    def snapshot(self) -> PairState:
        return PairState(self.pending, self.scheduled, frozenset(self.fired_profit), frozenset(self.fired_loss),
                         self.last_call)

    def restore(self, state: PairState) -> None:
        """Adopt a persisted state (SPEC §9.4, §20.1): a position is evaluated again from ``pending_at`` — an
        activated one from its activation candle, with that candle's rules — and a waiting row from
        ``scheduled_at``, so no candle whose checks may not have completed before a kill is skipped; fired
        milestone levels stay fired."""
        self.last_call = state.last_call
        if state.pending is not None:
            self.pending, self.cursor = state.pending, state.pending.pending_at
            self.fired_profit, self.fired_loss = set(state.fired_profit), set(state.fired_loss)
            self.recheck_activation = state.pending.pending_at > state.pending.scheduled_at
        elif state.scheduled is not None:
            self.scheduled, self.cursor = state.scheduled, state.scheduled.scheduled_at

    def stop(self) -> None:
        """No new signal from now on; a waiting row is cancelled at its next candle, a position completes."""
        self.stopped = True

    def request_cancel(self, cancel_id: str | None) -> bool:
        """Flag the waiting row for cancellation at its next candle; False when there is none (SPEC §5.4)."""
        if self.scheduled is None:
            return False
        self.cancel_request = (cancel_id,)
        return True

    def skip_empty_batch_step(self, when: int) -> bool:
        """A due step of a batch strategy whose table has no row at ``when`` does nothing but move the throttle
        clock (§4.3): True when it was that step (only called when nobody observes idle steps)."""
        if self.table is None or self.table.answer(when) is not None:
            return False
        self.last_call = when
        return True

    def unobserved(self) -> bool:
        """Does nobody see this pair's steps, only its final results and the report stores? No callback, risk
        profile, live persistence or order desk, and no listener of its results, pings or milestones: then a
        backtest may compute its trades without the notices in between (``modes/sweep.py``)."""
        return not (self.callbacks or self.persistence or self.orders or not isinstance(self.risk, NoRisk)
                    or events.signal.listeners or self.mode_topic.listeners or events.ping.listeners
                    or events.partial_profit.listeners or events.partial_loss.listeners)

    def idle_observed(self) -> bool:
        """Does anybody see idle results? If not, non-due steps may be skipped (SPEC §7.2)."""
        return bool(events.signal.listeners or self.mode_topic.listeners or self.idle_callbacks)

    def _focus(self, when: int) -> None:
        """Point the shared run context at this pair and time (several pairs share it in a portfolio)."""
        ctx = self.ctx
        ctx.symbol, ctx.strategy_name, ctx.when = self.symbol, self.strategy_name, when

    def _vwap_or_none(self, t: int) -> float | None:
        try:
            return self.store.vwap(self.symbol, t)
        except CandleDataError:
            return None

    # ---- publishing (SPEC §4.6) -------------------------------------------------------
    def _callback(self, name: str, *args: Any) -> None:
        fn = self.callbacks.get(name)
        if fn is not None:
            call_user(fn, self.symbol, *args, where=name, symbol=self.symbol, strategy_name=self.strategy_name)

    def _publish(self, result: TickResult) -> None:
        """on_tick -> report stores -> mode listeners -> listen_signal -> outbox (the specific
        callback was called by the transition)."""
        self._callback("on_tick", result, self.backtest)
        for sink in self.sinks:
            sink(result)
        if self.mode_topic.listeners:
            self.mode_topic.emit(result)
        if events.signal.listeners:
            events.signal.emit(result)
        self.outbox.append(result)

    def _result_fields(self, current_price: float | None, signal: SignalRow | None, timestamp: int) -> dict[str, Any]:
        return {"symbol": self.symbol, "strategy_name": self.strategy_name, "exchange_name": self.exchange_name,
                "backtest": self.backtest, "current_price": current_price, "signal": signal, "timestamp": timestamp}

    def record_risk(self, contract: Any) -> None:
        """A risk rejection of this pair, for the report stores (SPEC §13.5)."""
        for sink in self.sinks:
            sink(contract)

    def publish_idle(self, when: int, current_price: float | None) -> None:
        self._callback("on_idle", current_price, self.backtest)
        self._publish(IdleResult(**self._result_fields(current_price, None, when)))

    def publish_active(self, at: int, current_price: float | None) -> None:
        """An ``active`` result for the held row at ``at`` (live ticks, unresolved backtests)."""
        row = self.pending or self.scheduled
        assert row is not None
        if self.pending is not None and current_price is not None:
            percent_tp, percent_sl = percent_progress(row, current_price)
        else:
            percent_tp = percent_sl = 0.0
        self._publish(ActiveResult(**self._result_fields(current_price, row, at),
                                   percent_tp=percent_tp, percent_sl=percent_sl))

    # ---- a step -------------------------------------------------------------------
    def idle_step(self, when: int) -> None:
        """A step that is not due and holds nothing: ``idle`` with the VWAP or None, never an error."""
        if self.idle_observed():
            self.publish_idle(when, self._vwap_or_none(when))

    def intake(self, when: int) -> bool:
        """A due step (SPEC §4.4): True when it took a signal (the pair now holds a row)."""
        found = self.ask_row(when)
        return found is not None and self.take(*found, when)

    def ask_row(self, when: int) -> tuple[SignalRow, float] | None:
        """A due step up to the decision to take its signal: the throttle slot is used, the strategy asked, its
        answer validated and checked by risk; returns the row and the current price, or None (failures are
        emitted, ``idle`` published to whoever observes it). This runs once per ``get_signal`` call, so the
        no-signal path is kept short."""
        self.last_call = when
        ctx = self.ctx  # _focus, inlined
        ctx.symbol, ctx.strategy_name, ctx.when = self.symbol, self.strategy_name, when
        try:
            current_price = self.store.vwap(self.symbol, when)
        except CandleDataError as exc:
            emit_error(exc)
            return None
        answer = self.source.ask(when)
        if answer is None or self.stopped:  # SPEC §19.15: a stop during the call discards its answer
            if events.signal.listeners or self.mode_topic.listeners or self.idle_callbacks:
                self.publish_idle(when, current_price)
            return None
        try:
            row = build_row(answer, current_price=current_price, when=when, symbol=self.symbol,
                            exchange_name=self.exchange_name, strategy_name=self.strategy_name, cfg=self.cfg)
        except SignalValidationError as exc:
            emit_error(exc)
            row = None
        if row is None or not self.risk.allows(self, row, current_price, when):
            if self.idle_observed():
                self.publish_idle(when, current_price)
            return None
        return row, current_price

    def take(self, row: SignalRow, current_price: float, when: int) -> bool:
        """Hold the row found at ``when``: schedule it, or open it at once (SPEC §4.4); True when held."""
        self.cursor = when
        if row.is_scheduled:
            self.scheduled = row
            self._commit((Notice("scheduled", row, current_price, when),))
        else:
            self._open(row, when)
        return self.holds

    def load_table(self, first: int, last: int) -> None:
        """Backtest: compute the batch signals once for the decision times ``first..last``."""
        assert isinstance(self.source, TableSource)  # only batch strategies get here
        self.source.load(first, last)
        self.table = self.source.table

    def close(self) -> None:
        """Release what the signal source holds (an async strategy's event loop)."""
        self.source.close()

    # ---- transitions ----------------------------------------------------------------
    def _commit(self, notices: tuple[Notice, ...], *, closed_early: bool = False) -> None:
        """Deliver the notices of a state change just made. Live first makes the change and the notices
        durable in one write (SPEC §20.2); their record is cleared when the tick ends."""
        if self.persistence is not None:
            self.persistence.commit(self.snapshot(), notices)
        for notice in notices:
            self.deliver(notice, closed_early=closed_early)

    def deliver(self, notice: Notice, *, closed_early: bool = False) -> None:
        """The callbacks, events and result of one notice, in the order of §4.6 (also used to deliver
        again, after a restart, what a killed process had not delivered)."""
        kind, row, price, bt = notice.kind, notice.row, notice.price, self.backtest
        if self.orders is not None:
            self.orders(notice)
        if kind == "opened":
            self._callback("on_write", row, bt)
            self._callback("on_open", row, price, bt)
            self._publish(OpenedResult(**self._result_fields(price, row, notice.at)))
        elif kind == "closed":
            if not closed_early:
                self._callback("on_close", row, price, bt)
            self._callback("on_write", None, bt)
            self._publish(self.closed_result(row, price, notice.at, notice.close_reason,  # type: ignore[arg-type]
                                             notice.pnl))
        elif kind == "scheduled":
            self._callback("on_schedule", row, price, bt)
            self._publish(ScheduledResult(**self._result_fields(price, row, notice.at)))
        elif kind == "cancelled":
            self._callback("on_cancel", row, price, bt)
            self._publish(CancelledResult(**self._result_fields(price, row, notice.at),
                                          reason=notice.reason,  # type: ignore[arg-type]
                                          close_timestamp=notice.at, cancel_id=notice.cancel_id))
        else:
            side: Literal["profit", "loss"] = "profit" if kind == "partial_profit" else "loss"
            topic = events.partial_profit if side == "profit" else events.partial_loss
            assert price is not None and notice.level is not None  # a milestone has both
            if self.partial_log is not None:
                self.partial_log.append((row, self.exchange_name, side, [notice.level], [notice.at], [price]))
            if topic.listeners:
                topic.emit(PartialContract(self.symbol, self.strategy_name, self.exchange_name, row, price,
                                           notice.level, bt, notice.at, side))
            self._callback(f"on_partial_{side}", row, price, notice.level, bt)

    def closed_result(self, row: SignalRow, price: float, at: int, reason: CloseReason,
                      pnl: Pnl | None = None) -> ClosedResult:
        """The ``closed`` result of ``row`` at ``price`` (its PnL computed when not given, SPEC §6)."""
        return ClosedResult(**self._result_fields(price, row, at), close_reason=reason, close_timestamp=at,
                            pnl=pnl if pnl is not None else self._pnl(row, price))

    def _pnl(self, row: SignalRow, price: float) -> Pnl:
        return compute_pnl(row.position, row.price_open, price, fee_percent=self.cfg.CC_PERCENT_FEE,
                           slippage_percent=self.cfg.CC_PERCENT_SLIPPAGE)

    def record(self, result: TickResult) -> None:
        """A result for the report stores only (nobody else observes the pair: :meth:`unobserved`)."""
        for sink in self.sinks:
            sink(result)

    def _open(self, row: SignalRow, at: int) -> None:
        self.pending = row
        self.fired_profit, self.fired_loss = set(), set()
        self.risk.add(self, row, at)
        self._commit((Notice("opened", row, row.price_open, row.pending_at),))

    def _close(self, reason: CloseReason, price: float, close_ts: int) -> None:
        row = self.pending
        assert row is not None
        pnl = self._pnl(row, price)
        early = self.persistence is None
        if early:  # SPEC §5.3: a backtest's on_close still sees the position held; live commits first (§20.2)
            self._callback("on_close", row, price, self.backtest)
        self.fired_profit, self.fired_loss = set(), set()
        self.risk.remove(self, row)
        self.pending = None
        self._commit((Notice("closed", row, price, close_ts, close_reason=reason, pnl=pnl),), closed_early=early)

    def _cancel(self, reason: CancelReason, close_ts: int, cancel_id: str | None = None) -> None:
        row = self.scheduled
        assert row is not None
        current_price = self._vwap_or_none(close_ts)  # SPEC §19.16: cancel even without a price
        self.scheduled = None
        self.cancel_request = None
        self._commit((Notice("cancelled", row, current_price, close_ts, reason=reason, cancel_id=cancel_id),))

    def _fire(self, kind: Side, level: float, price: float, at: int) -> None:
        row = self.pending
        assert row is not None
        (self.fired_profit if kind == "profit" else self.fired_loss).add(level)
        self._commit((Notice("partial_profit" if kind == "profit" else "partial_loss", row, price, at,
                             level=level),))

    def partials_observed(self) -> bool:
        """Does anybody beyond the report store see milestones (events, callbacks, or live state)? If not, a
        position's milestones are recorded in one go with its next planned event instead of one by one."""
        return bool(events.partial_profit.listeners or events.partial_loss.listeners or self.partial_callbacks
                    or self.persistence)

    def _fire_all(self, found: list, ts: Any) -> None:
        for m in found:
            self._fire(m.kind, m.level, m.price, int(ts[m.candle]) + MINUTE_MS)

    def defer_partials(self, row: SignalRow, start: int, end: int) -> None:
        """Milestones nobody but the report store sees are computed for every position of the run at once
        (``flush_partials``): ``row`` lived through the candles ``[start, end)`` (open times) before the one
        that closed it. The windows of one position (a failed read splits its plan) are joined."""
        last = self.deferred[-1] if self.deferred else None
        if last is not None and last[0] is row and last[2] == start:
            last[2] = end
        else:
            self.deferred.append([row, start, end, frozenset(self.fired_profit), frozenset(self.fired_loss)])

    def flush_partials(self) -> None:
        """Compute the deferred milestones (one vectorised pass over the run's candles) and record them in the
        report store, in time order. Called when the pair's run ends, while its candles are still loaded."""
        if not self.deferred:
            return
        windows, self.deferred = self.deferred, []
        if self.partial_log is None:
            return
        lo, hi = min(w[1] for w in windows), max(w[2] for w in windows)
        ts, _o, high, low, _c, _v = self.store.window(self.symbol, "1m", lo, hi)
        if not len(ts):
            return
        edges = ts.searchsorted(np.array([(w[1], w[2]) for w in windows], dtype=np.int64)).tolist()
        bounds = [(row, a, b, fp, fl) for (row, _, _, fp, fl), (a, b) in zip(windows, edges)]
        runs, counts = window_milestones(ts, high, low, bounds, self.cfg.CC_PARTIAL_PROFIT_LEVELS,
                                         self.cfg.CC_PARTIAL_LOSS_LEVELS, newest_events=self.partial_log.limit)
        for (row, *_), found, count in zip(bounds, runs, counts):
            if count and not found:
                self.partial_log.count(count)  # older than what the store keeps: counted in "M of N" only
            for kind, levels, ats, prices in found:
                self.partial_log.append((row, self.exchange_name, kind, levels, [t + MINUTE_MS for t in ats],
                                         prices), len(levels))

    def _user_flag(self) -> tuple[str | None] | None:
        """A pending cancel request wins over a stop (SPEC §19.6); ``(cancel_id,)`` or None."""
        if self.cancel_request is not None:
            return self.cancel_request
        return (None,) if self.stopped else None

    # ---- evaluation of a held row (SPEC §5) ------------------------------------------
    def evaluate(self, horizon: int) -> None:
        """Process the closed 1m candles from the cursor up to ``horizon`` (live ticks). Raises
        ``CandleDataError`` when candles or a needed average price are missing; what was processed
        before the failure stays processed."""
        if self.scheduled is not None:
            self.advance_waiting(horizon)
        if self.recheck_activation and self.pending is not None:
            self._recheck_activation_candle()
        if self.pending is not None:
            for item in self.position_plan(horizon):
                if item.kind == "error":
                    self.cursor = item.at
                    raise item.error  # type: ignore[misc]
                if item.kind != "unresolved":
                    self.apply(item)

    def position_plan(self, horizon: int) -> list[PlanItem]:
        """Every event of the held position up to ``horizon``, in order, without applying them."""
        row = self.pending
        assert row is not None
        cfg = self.cfg
        expires_at = row.pending_at + row.minute_estimated_time * MINUTE_MS
        end = min(expires_at, horizon)
        observed = self.partials_observed()
        fired_profit, fired_loss = set(self.fired_profit), set(self.fired_loss)
        cursor = start = self.cursor
        items: list[PlanItem] = []
        try:
            for ts, _o, high, low, _c, _v in self.store.iter_window(self.symbol, "1m", cursor, end - MINUTE_MS + 1):
                hit = position_hit(row, high, low, cfg.CC_SAME_CANDLE_PRIORITY)
                stop = hit.index if hit else len(ts)
                if stop and observed:
                    for m in milestones(row, high[:stop], low[:stop], profit_levels=cfg.CC_PARTIAL_PROFIT_LEVELS,
                                        loss_levels=cfg.CC_PARTIAL_LOSS_LEVELS, fired_profit=fired_profit,
                                        fired_loss=fired_loss):
                        (fired_profit if m.kind == "profit" else fired_loss).add(m.level)
                        items.append(PlanItem(int(ts[m.candle]) + MINUTE_MS, m.kind, m.level, m.price))
                if hit is not None:
                    hit_at = int(ts[hit.index])
                    items.append(PlanItem(hit_at + MINUTE_MS, "close", price=hit.price, reason=hit.reason,
                                          quiet=None if observed else (start, hit_at)))
                    return items
                cursor = int(ts[-1]) + MINUTE_MS
            quiet = None if observed else (start, cursor)
            if horizon >= expires_at:
                price = self.store.vwap(self.symbol, expires_at)
                items.append(PlanItem(expires_at, "close", price=price, reason="time_expired", quiet=quiet))
            else:
                items.append(PlanItem(cursor, "unresolved", quiet=quiet))
        except CandleDataError as exc:
            items.append(PlanItem(cursor, "error", error=exc, quiet=None if observed else (start, cursor)))
        return items

    def apply(self, item: PlanItem) -> None:
        """Make one planned event happen (state, callbacks, events) at its time."""
        self._focus(item.at)
        if item.quiet is not None:
            assert self.pending is not None
            self.defer_partials(self.pending, *item.quiet)
        self.cursor = item.at
        if item.kind == "close":
            self._close(item.reason, item.price, item.at)
        elif item.kind in ("profit", "loss"):
            self._fire(item.kind, item.level, item.price, item.at)
        elif item.kind == "unresolved":
            self.publish_active(item.at, self._vwap_or_none(item.at))
        else:
            emit_error(item.error)  # type: ignore[arg-type]

    def waiting_next(self, horizon: int) -> int | None:
        """When the waiting row next needs attention: the candle that activates or rejects it, the next
        candle when pings are observed or a cancel/stop is pending, or its timeout; None when nothing
        happens before ``horizon``. Price-only: risk is checked when that time comes."""
        row = self.scheduled
        assert row is not None
        if self._user_flag() is not None:
            return self.cursor
        timeout_at = row.scheduled_at + self.cfg.CC_SCHEDULE_AWAIT_MINUTES * MINUTE_MS
        stepwise = bool(events.ping.listeners) or "on_ping" in self.callbacks
        for ts, _o, high, low, _c, _v in self.store.iter_window(self.symbol, "1m", self.cursor,
                                                                 min(timeout_at, horizon) - MINUTE_MS + 1):
            k = 0 if stepwise else activation_index(row, high, low)[0]
            if k < len(ts):
                return int(ts[k]) + MINUTE_MS
        return timeout_at if horizon >= timeout_at else None

    def advance_waiting(self, horizon: int) -> None:
        """Process the waiting row's candles up to ``horizon`` (SPEC §5.4): pings, flags, activation
        (then the activation candle's SL), price reject, timeout."""
        row = self.scheduled
        assert row is not None
        self._focus(horizon)
        timeout_at = row.scheduled_at + self.cfg.CC_SCHEDULE_AWAIT_MINUTES * MINUTE_MS
        cancel_at = self.cursor if self.backtest else horizon
        flag = self._user_flag()
        if flag is not None:
            self._cancel("user", cancel_at, flag[0])
            return
        end = min(timeout_at, horizon)
        pings_observed = bool(events.ping.listeners) or "on_ping" in self.callbacks
        for ts, _o, high, low, _c, _v in self.store.iter_window(self.symbol, "1m", self.cursor, end - MINUTE_MS + 1):
            k, activated = activation_index(row, high, low)
            if pings_observed:
                for j in range(k):
                    self.cursor = int(ts[j]) + MINUTE_MS
                    self._ping(row, self.cursor)
                    flag = self._user_flag()
                    if flag is not None:
                        self._cancel("user", self.cursor if self.backtest else horizon, flag[0])
                        return
            elif k:
                self.cursor = int(ts[k - 1]) + MINUTE_MS
            if k < len(ts):
                at = int(ts[k]) + MINUTE_MS
                self.cursor = at
                if activated:
                    self._activate(row, at, float(high[k]), float(low[k]))
                else:
                    self._cancel("price_reject", at)
                return
        flag = self._user_flag()
        if flag is not None:
            self._cancel("user", self.cursor if self.backtest else horizon, flag[0])
        elif horizon >= timeout_at:
            self._cancel("timeout", timeout_at)

    def _ping(self, row: SignalRow, at: int) -> None:
        if events.ping.listeners:
            events.ping.emit(PingContract(self.symbol, self.strategy_name, self.exchange_name, row,
                                          self.backtest, at))
        self._callback("on_ping", row, to_datetime(at), self.backtest)

    def _activate(self, row: SignalRow, at: int, high: float, low: float) -> None:
        if not self.risk.allows(self, row, row.price_open, at):
            self._cancel("risk_reject", at)
            return
        position = replace(row, pending_at=at, is_scheduled=False)
        self.scheduled = None
        self._open(position, at)
        self._activation_candle(position, at, high, low)

    def _activation_candle(self, position: SignalRow, at: int, high: float, low: float) -> None:
        """The activation candle measures the stop loss and losses only (SPEC §5.4 1c)."""
        if stop_loss_on(position, high, low):
            self._close("stop_loss", position.price_stop_loss, at)
            return
        found = milestones(position, _one(high), _one(low), profit_levels=(),
                           loss_levels=self.cfg.CC_PARTIAL_LOSS_LEVELS, fired_profit=self.fired_profit,
                           fired_loss=self.fired_loss, profit=False)
        self._fire_all(found, _one(at - MINUTE_MS))

    def _recheck_activation_candle(self) -> None:
        """A restored activated position checks its activation candle again (SPEC §20.1.1): a kill may have
        come between the activation's write and that candle's checks; fired levels are not fired twice."""
        position = self.pending
        assert position is not None
        start = position.pending_at - MINUTE_MS
        window = self.store.iter_window(self.symbol, "1m", start, start + 1)
        candles = [(h[0], lo[0]) for ts, _o, h, lo, _c, _v in window if len(ts)]  # may raise: the check stays due
        self.recheck_activation = False
        if candles:
            self._focus(position.pending_at)
            self._activation_candle(position, position.pending_at, float(candles[0][0]), float(candles[0][1]))



def _one(x: Any) -> np.ndarray:
    """A one-element array, so single-candle checks reuse the vectorised kernels."""
    return np.array([x])
