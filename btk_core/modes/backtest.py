"""Backtest mode (SPEC §7, §8): step a frame, resolve every held row over closed candles.

One loop serves ``run`` (a portfolio of one pair) and ``run_portfolio``. Each pair
is a *lane* with exactly one next event in a heap ordered by ``(time, class, pair
index)``: class 1 releases a position's planned events (milestones, close), class 2
advances a waiting row to the candle that matters (activation, reject, timeout),
class 3 is a frame step. A position's plan is computed once, vectorised, when it
opens; a waiting row jumps straight to its activation candle unless pings are
observed; frame steps nobody observes are skipped to the next due one. So the cost
is ``O(get_signal calls + trades)`` Python work plus vectorised scans.
"""
from __future__ import annotations

import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator

from .. import clock, events
from ..candle_store import CandleStore
from ..config import snapshot
from ..context import RunContext, run_context
from ..errors import CandleDataError, SchemaValidationError
from ..events import emit_error
from ..guard import call_user
from ..intervals import INTERVAL_MS, MINUTE_MS
from ..pair_machine import PairMachine
from ..queues import KeyedQueues
from ..registry import lookup
from ..reports import stores as report_stores
from ..results import BacktestProgress, CancelledResult, ClosedResult, DoneContract, RunState, RunStatus
from ..risk import RiskBook, RiskGate
from ..runs import RunRegistry
from ..schemas import FrameSchema
from ..stats import BacktestStatistics, Span, backtest_statistics
from .background import consume_in_background
from .lanes import FRAME, POSITION, WAITING, Lane, Run
from .pairs import PairModeApi
from .sweep import HELD, can_sweep, next_batch_index, sweep

log = logging.getLogger("btk")
Final = ClosedResult | CancelledResult


class RunHandle(Iterator[Final]):
    """The generator a run returns. Pairs are claimed when it is created (so ``run`` raises
    ``AlreadyRunningError`` at once) and released when the run ends, is closed, or is dropped unstarted."""

    def __init__(self, body: Iterator[Final], release_all: Callable[[], None]) -> None:
        self._body = body
        self._release_all = release_all
        self._started = False

    def __iter__(self) -> RunHandle:
        return self

    def __next__(self) -> Final:
        self._started = True
        return next(self._body)

    def close(self) -> None:
        if self._started:
            self._body.close()  # type: ignore[attr-defined]
        else:
            self._release_all()

    def __del__(self) -> None:
        if not self._started:
            self._release_all()


#: Points of the buy-and-hold line a backtest keeps with its span (the chart needs no more).
BENCHMARK_POINTS = 300


def _span(machine: PairMachine, start: int, end: int) -> Span:
    """The frame ``[start, end)`` with its first and last visible 1m close and a sample of the closes between
    them (``None`` / empty when unreadable)."""
    store, symbol = machine.store, machine.symbol
    every = max(1, (end - start) // MINUTE_MS // BENCHMARK_POINTS)
    try:
        ts, _o, _h, _l, close, _v = store.window(symbol, "1m", start, end)  # a view of the prefetched blocks
        last_candles = store.last_closed(symbol, "1m", 1, end)
    except CandleDataError:
        return Span(start, end)
    sample = list(zip(ts[::every].tolist(), close[::every].tolist()))
    first = sample[0][1] if sample else None
    last = float(last_candles.close[-1]) if len(last_candles) else None
    if last is not None and (not sample or sample[-1][0] != int(last_candles.timestamp[-1])):
        sample.append((int(last_candles.timestamp[-1]), last))
    return Span(start, end, first, last, tuple(sample))


def frame_bounds(frame: FrameSchema, now: int) -> tuple[int, int, int]:
    """``(start, step, count)`` of the frame timestamps, clamped to ``now`` (SPEC §7.1)."""
    step = INTERVAL_MS[frame.interval]
    end = min(frame.end_ms, now)
    count = (end - frame.start_ms) // step + 1 if end >= frame.start_ms else 0
    return frame.start_ms, step, count


class BacktestApi(PairModeApi):
    """``Backtest``: run strategies over frames and read what the runs produced."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Forget every run and result (tests; a fresh process starts like this)."""
        self._runs = RunRegistry("backtest")
        self._machines: dict[tuple[str, str], PairMachine] = {}
        self._active: dict[tuple[str, str], Run] = {}
        self._closed: KeyedQueues[ClosedResult] = KeyedQueues()
        self._spans: dict[tuple[str, str], Span] = {}  # the frame each pair last ran over (SPEC §20.4)
        self._limits = snapshot()

    # ---- starting runs -------------------------------------------------------------
    def run(self, symbol: str, *, strategy_name: str, exchange_name: str, frame_name: str) -> Iterator[Final]:
        """Backtest one pair; yields every ``closed`` and ``cancelled`` result."""
        return self.run_portfolio([(symbol, strategy_name)], exchange_name=exchange_name, frame_name=frame_name)

    def run_portfolio(self, pairs: list[tuple[str, str]], *, exchange_name: str,
                      frame_name: str) -> Iterator[Final]:
        """Backtest several (symbol, strategy) pairs in one global time order, sharing risk profiles (SPEC §8)."""
        pairs = [tuple(p) for p in pairs]  # type: ignore[misc]
        if not pairs or len(set(pairs)) != len(pairs) or any(len(p) != 2 for p in pairs):
            raise SchemaValidationError(
                f"backtest schema validation failed: pairs must be a non-empty list of distinct "
                f"(symbol, strategy_name), got {pairs!r}")
        strategies = [lookup("strategy", strategy_name) for _, strategy_name in pairs]
        exchange = lookup("exchange", exchange_name)
        frame = lookup("frame", frame_name)
        for strategy in strategies:
            for risk_name in strategy.risk_names:
                lookup("risk", risk_name)
        self._runs.claim(pairs)
        cfg = snapshot()
        self._limits = cfg
        ctx = RunContext(store=CandleStore(exchange, cfg), cfg=cfg, exchange=exchange, backtest=True,
                         frame_name=frame_name)
        book = RiskBook()  # SPEC §10.4: risk profiles start empty for this run
        lanes = []
        for index, ((symbol, _), strategy) in enumerate(zip(pairs, strategies)):
            gate = RiskGate(book, strategy.risk_names) if strategy.risk_names else None
            store_key = (symbol, strategy.strategy_name, True)
            report_stores.clear_pair(*store_key)  # SPEC §7.8, before the run's logs are opened
            machine = PairMachine(ctx, strategy, symbol, risk=gate, sinks=(self._record,),
                                  partial_log=report_stores.PARTIAL.open(store_key, cfg.CC_PARTIAL_MAX_EVENTS))
            self._start_pair(machine)
            perf_log = report_stores.PERFORMANCE.open(store_key, cfg.CC_PERFORMANCE_MAX_EVENTS)
            lanes.append(Lane(machine, index, perf_log))
        run = Run(lanes)
        for key in run.by_pair:
            self._active[key] = run

        def release_all() -> None:  # the handle was dropped before it started
            for lane in lanes:
                self._runs.release((lane.machine.symbol, lane.machine.strategy_name), "ready")

        return RunHandle(self._drive(run, frame), release_all)

    def _start_pair(self, machine: PairMachine) -> None:
        """SPEC §7.8: the pair's stores and state start empty."""
        key = (machine.symbol, machine.strategy_name)
        self._closed.clear((*key, True))
        self._machines[key] = machine

    def _record(self, item: object) -> None:
        report_stores.record_result(item, self._limits)
        if isinstance(item, ClosedResult):
            self._closed.add((item.symbol, item.strategy_name, True), item, self._limits.CC_BACKTEST_MAX_SIGNALS)

    # ---- the loop ----------------------------------------------------------------
    def _drive(self, run: Run, frame: FrameSchema) -> Iterator[Final]:
        """The run's event loop: a heap of (time, class, lane) events — frame steps, a position's planned
        events, a waiting row's next candle — processed in time order across the run's pairs (SPEC §7, §8)."""
        lanes = run.lanes
        self._open_frame(run, frame)
        ctx = lanes[0].machine.ctx
        run_started = {lane.index: lane.perf.start() for lane in lanes}
        failed = False
        try:
            with run_context(ctx):
                heap = self._first_events(run, run_started)
                while heap:
                    t, cls, index, token = heapq.heappop(heap)
                    lane = lanes[index]
                    if token != lane.token or lane.finished:
                        continue
                    nxt: tuple[int, int] | None
                    if cls == FRAME and lane.sweeps and not lane.handed_over:
                        nxt = yield from sweep(lane, run)
                        if nxt is HELD:
                            nxt = self._fast_forward(lane, run)
                    elif cls == FRAME:
                        lane.handed_over = False
                        t, nxt = self._frame_steps(lane, run, heap, t)
                    elif cls == POSITION:
                        nxt = yield from self._position_event(lane, run)
                    else:
                        nxt = yield from self._waiting_event(lane, run, t)
                    if nxt is None:
                        self._finish(lane, run.total, run_started)
                    else:
                        heapq.heappush(heap, (max(nxt[0], t), nxt[1], index, lane.token))
                    if run.dirty:
                        self._reschedule(run, heap, t)
        except Exception:
            failed = True
            raise
        finally:
            for lane in lanes:
                lane.machine.close()
                if not lane.finished:  # the consumer closed the generator, or the run failed
                    self._finish(lane, run.total, run_started, status="failed" if failed else "done")
            for key in run.by_pair:
                if self._active.get(key) is run:
                    del self._active[key]
            ctx.store.release()

    def _open_frame(self, run: Run, frame: FrameSchema) -> None:
        """The frame's timestamps up to now (SPEC §7.1), announced to ``on_timeframe``."""
        start, step, total = frame_bounds(frame, clock.now())
        run.start, run.step, run.total = start, step, total
        on_timeframe = frame.callbacks.get("on_timeframe")
        if on_timeframe is not None:
            call_user(on_timeframe, [start + k * step for k in range(total)], start,
                      start + (total - 1) * step if total else min(frame.end_ms, clock.now()), frame.interval,
                      where="on_timeframe")

    def _first_events(self, run: Run, run_started: dict[int, float]) -> list[tuple[int, int, int, int]]:
        """Load the frame's 1m blocks together, compute batch tables, and put each lane's first step on the heap
        (a lane of an empty frame finishes at once)."""
        start, step, total = run.start, run.step, run.total
        ctx = run.lanes[0].machine.ctx
        heap: list[tuple[int, int, int, int]] = []
        if total:  # every 1m block of the frame, and those a position opened at its end may live in, will be read
            cfg = ctx.cfg
            beyond = (cfg.CC_SCHEDULE_AWAIT_MINUTES + cfg.CC_MAX_SIGNAL_LIFETIME_MINUTES) * MINUTE_MS
            for symbol in dict.fromkeys(lane.machine.symbol for lane in run.lanes):
                ctx.store.prefetch(symbol, start - cfg.CC_AVG_PRICE_CANDLES_COUNT * MINUTE_MS,
                                   start + total * step + beyond)
        for lane in run.lanes:
            lane.sweeps = can_sweep(run)
            if lane.machine.batch and total:
                lane.machine.load_table(start, start + (total - 1) * step)
            if total:
                heap.append((start, FRAME, lane.index, lane.token))
            else:
                self._finish(lane, total, run_started)
        heapq.heapify(heap)
        return heap

    def _frame_steps(self, lane: Lane, run: Run, heap: list[tuple[int, int, int, int]],
                     t: int) -> tuple[int, tuple[int, int] | None]:
        """Frame steps of one lane (SPEC §7.2), one after the other while nothing else is due earlier: returns
        the time reached and the lane's next event. Steps nobody observes are skipped to the next due one."""
        m, start, step, total, index = lane.machine, run.start, run.step, run.total, lane.index
        progress_topic, perf_topic = events.backtest_progress, events.performance
        nxt: tuple[int, int] | None
        while True:
            if progress_topic.listeners:
                self._progress(m, total, lane.i)
            holds = m.holds
            if m.stopped and not holds:
                return t, None
            when = start + lane.i * step
            lane.started = time.perf_counter()
            quiet = not (progress_topic.listeners or perf_topic.listeners or m.idle_observed())
            if not holds:
                if m.due(when):
                    if not (quiet and m.batch and m.skip_empty_batch_step(when)):
                        holds = m.intake(when)
                else:
                    m.idle_step(when)
            if holds:
                return t, self._fast_forward(lane, run)
            if m.outbox:
                m.outbox.clear()
            lane.perf.emit("backtest_timeframe", lane.started)
            lane.i += 1
            due_at = m.next_due()
            if quiet and due_at is not None:  # nobody sees the steps before the next due one: skip them
                if due_at > start + lane.i * step:
                    lane.i = -(-(due_at - start) // step)
                if m.table is not None and lane.i < total:
                    lane.i = next_batch_index(m, lane.i, run)
            if lane.i >= total:
                return t, None
            nxt = (start + lane.i * step, FRAME)
            if run.dirty or (heap and heap[0][:3] < (nxt[0], FRAME, index)):
                return t, nxt
            t = nxt[0]

    def _position_event(self, lane: Lane, run: Run) -> Generator[Final, None, tuple[int, int] | None]:
        """The next planned event of the held position: a milestone, the close (its results are yielded), the
        end of the data (§7.4) or a failed read (§7.5)."""
        m = lane.machine
        item = lane.plan.popleft()
        m.apply(item)
        if item.kind in ("profit", "loss"):
            return lane.plan[0].at, POSITION
        if item.kind == "close":
            finals = self._finals(m)
            yield from finals
            return self._resume(lane, run, finals[-1].close_timestamp)
        if item.kind == "error":
            return self._retry(lane, run)
        self._unresolved(lane)  # the row outlives now (SPEC §7.4)
        return None

    def _waiting_event(self, lane: Lane, run: Run, t: int) -> Generator[Final, None, tuple[int, int] | None]:
        """A waiting row's candles up to ``t`` (SPEC §5.4): activation, cancellation, or more waiting."""
        m = lane.machine
        try:
            m.advance_waiting(t)
        except CandleDataError as exc:
            emit_error(exc)
            return self._retry(lane, run)
        finals = self._finals(m)
        if finals:
            yield from finals
            return self._resume(lane, run, finals[-1].close_timestamp)
        return self._fast_forward(lane, run)

    def _fast_forward(self, lane: Lane, run: Run) -> tuple[int, int] | None:
        """Plan what happens next to the held row (SPEC §7.2 step 4)."""
        m = lane.machine
        if m.outbox:
            m.outbox.clear()
        if m.pending is not None:
            lane.plan = deque(m.position_plan(clock.now()))
            return lane.plan[0].at, POSITION
        try:
            at = m.waiting_next(clock.now())
        except CandleDataError as exc:
            emit_error(exc)
            return self._retry(lane, run)
        if at is None:
            self._unresolved(lane)
            return None
        return at, WAITING

    @staticmethod
    def _finals(m: PairMachine) -> list[Final]:
        finals = [r for r in m.outbox if isinstance(r, (ClosedResult, CancelledResult))]
        m.outbox.clear()
        return finals

    @staticmethod
    def _resume(lane: Lane, run: Run, close_timestamp: int) -> tuple[int, int] | None:
        """After a final result: the first frame timestamp at or after its close (SPEC §7.2)."""
        lane.perf.emit("backtest_signal", lane.started)
        lane.i = max(lane.i, -(-(close_timestamp - run.start) // run.step))
        return (run.start + lane.i * run.step, FRAME) if lane.i < run.total else None

    @staticmethod
    def _retry(lane: Lane, run: Run) -> tuple[int, int] | None:
        """A failed fast-forward keeps the row and is tried again at the next frame step (SPEC §7.5)."""
        lane.machine.outbox.clear()
        lane.perf.emit("backtest_signal", lane.started)
        lane.i += 1
        return (run.start + lane.i * run.step, FRAME) if lane.i < run.total else None

    def _reschedule(self, run: Run, heap: list, t: int) -> None:
        """A cancel or stop arrived: a waiting row must look at it at its next candle boundary."""
        for key in run.dirty:
            lane = run.by_pair.get(key)
            if lane is not None and not lane.finished and lane.machine.scheduled is not None and not lane.plan:
                lane.token += 1
                heapq.heappush(heap, (max(t, lane.machine.cursor), WAITING, lane.index, lane.token))
        run.dirty.clear()

    def _unresolved(self, lane: Lane) -> None:
        """SPEC §7.4: the row outlives ``now``: report it as ``active`` and end the pair's run."""
        m = lane.machine
        log.warning("backtest of %s/%s ends with an unresolved signal at %d", m.symbol, m.strategy_name, m.cursor)
        if m.scheduled is not None:
            m.publish_active(m.cursor, m._vwap_or_none(m.cursor))
        m.outbox.clear()

    @staticmethod
    def _progress(machine: PairMachine, total: int, processed: int) -> None:
        events.backtest_progress.emit(BacktestProgress(machine.exchange_name, machine.strategy_name, machine.symbol,
                                                       total, processed, processed / total if total else 1.0))

    def _finish(self, lane: Lane, total: int, run_started: dict[int, float], status: RunState = "done") -> None:
        """The pair's run ended: final progress, backtest_total, done (SPEC §7.2, §19.10)."""
        lane.finished = True
        m = lane.machine
        try:
            m.flush_partials()  # milestones only the report store sees, all positions at once
        except CandleDataError as exc:
            emit_error(exc)
        run = self._active.get((m.symbol, m.strategy_name))
        if run is not None:
            self._spans[(m.symbol, m.strategy_name)] = _span(m, run.start, run.start + run.total * run.step)
        if events.backtest_progress.listeners:
            self._progress(m, total, total)
        lane.perf.emit("backtest_total", run_started[lane.index])
        self._runs.release((m.symbol, m.strategy_name), status)
        events.done_backtest.emit(DoneContract(m.exchange_name, m.strategy_name, True, m.symbol))

    # ---- control ------------------------------------------------------------------
    def background(self, symbol: str, *, strategy_name: str, exchange_name: str, frame_name: str) -> Callable[[], None]:
        """Run in a daemon thread; returns a function that stops the run."""
        handle = self.run(symbol, strategy_name=strategy_name, exchange_name=exchange_name, frame_name=frame_name)
        consume_in_background(handle, f"backtest-{symbol}-{strategy_name}")
        return lambda: self.stop(symbol, strategy_name)

    def stop(self, symbol: str, strategy_name: str) -> None:
        """No new signal; a waiting row is cancelled at its next candle; a position completes (SPEC §7.7)."""
        machine = self._machines.get((symbol, strategy_name))
        if machine is not None:
            machine.stop()
            self._mark_dirty((symbol, strategy_name))

    def cancel(self, symbol: str, strategy_name: str, cancel_id: str | None = None) -> bool:
        """Ask to cancel the pair's waiting row at its next candle; False when it has none."""
        if not self._request_cancel(symbol, strategy_name, cancel_id):
            return False
        self._mark_dirty((symbol, strategy_name))
        return True

    def _mark_dirty(self, key: tuple[str, str]) -> None:
        run = self._active.get(key)
        if run is not None:
            run.dirty.add(key)

    # ---- reading ------------------------------------------------------------------
    def get_data(self, symbol: str, strategy_name: str) -> BacktestStatistics:
        lookup("strategy", strategy_name)
        return backtest_statistics(self._closed.items((symbol, strategy_name, True)),
                                   self._spans.get((symbol, strategy_name)))

    def get_span(self, symbol: str, strategy_name: str) -> Span | None:
        """The frame the pair last ran over, with its first and last 1m close (for the §20.4 statistics)."""
        lookup("strategy", strategy_name)
        return self._spans.get((symbol, strategy_name))

    def get_report(self, symbol: str, strategy_name: str) -> str:
        """The backtest report of the pair's last run (SPEC §14 #1)."""
        from ..reports.documents import backtest_report
        return backtest_report(strategy_name, self.get_data(symbol, strategy_name))

    def dump(self, symbol: str, strategy_name: str, path: str = "./dump/backtest") -> str:
        """Write the report (and, with trades, its compounded equity/drawdown picture); returns the report path."""
        from ..reports.writers import write_backtest
        return write_backtest(symbol, strategy_name, self.get_data(symbol, strategy_name), path,
                              self.get_span(symbol, strategy_name))

    def list(self) -> list[RunStatus]:
        return self._runs.listing()

    def progress(self) -> tuple[BacktestProgress, ...]:
        """How far each running pair is, read without listening: a ``listen_backtest_progress`` listener sees
        every step (SPEC §7.6), so the run can skip none of them; a progress bar that polls this a few times a
        second leaves the run as fast as an unobserved one."""
        out = []
        for run in list(dict.fromkeys(list(self._active.values()))):
            for lane in run.lanes:
                if not lane.finished:
                    m, done = lane.machine, min(lane.i, run.total)
                    out.append(BacktestProgress(m.exchange_name, m.strategy_name, m.symbol, run.total, done,
                                                done / run.total if run.total else 1.0))
        return tuple(out)


Backtest = BacktestApi()
