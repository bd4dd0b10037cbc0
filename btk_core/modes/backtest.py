"""Backtest mode (SPEC §7): step a frame, fast-forward every held row over closed candles.

The loop does ``O(get_signal calls)`` Python work: steps that are not due are
skipped when nobody observes them, and a held row is resolved by the vectorised
evaluation in one call, after which the loop jumps to the first frame timestamp
at or after the close.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterator

from .. import clock, events
from ..candle_store import CandleStore
from ..config import snapshot
from ..context import RunContext, run_context
from ..errors import CandleDataError
from ..events import emit_error
from ..guard import call_user
from ..intervals import INTERVAL_MS
from ..perf import PerfTimer
from ..registry import lookup
from ..results import BacktestProgress, CancelledResult, ClosedResult, DoneContract, RunStatus, TickResult
from ..runs import RunRegistry
from ..schemas import FrameSchema
from ..signals import SignalRow
from ..stats import BacktestStatistics, backtest_statistics
from ..stores import BoundedStore
from ..strategy import PairMachine

log = logging.getLogger("btk")
Final = ClosedResult | CancelledResult


class RunHandle(Iterator[Final]):
    """The generator a run returns. The pairs are claimed when it is created (so ``run`` raises
    ``AlreadyRunningError`` at once) and released when the run ends, is closed, or is dropped unstarted."""

    def __init__(self, body: Iterator[Final], release: Callable[[], None]) -> None:
        self._body = body
        self._release = release
        self._started = False

    def __iter__(self) -> "RunHandle":
        return self

    def __next__(self) -> Final:
        self._started = True
        return next(self._body)

    def close(self) -> None:
        if self._started:
            self._body.close()  # type: ignore[attr-defined]
        else:
            self._release()

    def __del__(self) -> None:
        if not self._started:
            self._release()


def frame_bounds(frame: FrameSchema, now: int) -> tuple[int, int, int]:
    """``(start, step, count)`` of the frame timestamps, clamped to ``now`` (SPEC §7.1)."""
    step = INTERVAL_MS[frame.interval]
    end = min(frame.end_ms, now)
    count = (end - frame.start_ms) // step + 1 if end >= frame.start_ms else 0
    return frame.start_ms, step, count


class BacktestApi:
    """``Backtest``: run strategies over frames and read what the runs produced."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Forget every run and result (tests; a fresh process starts like this)."""
        self._runs = RunRegistry("backtest")
        self._machines: dict[tuple[str, str], PairMachine] = {}
        self._closed: BoundedStore[ClosedResult] = BoundedStore()
        self._limits = snapshot()

    # ---- running ------------------------------------------------------------------
    def run(self, symbol: str, *, strategy_name: str, exchange_name: str, frame_name: str) -> Iterator[Final]:
        """Backtest one pair; yields every ``closed`` and ``cancelled`` result."""
        strategy = lookup("strategy", strategy_name)
        exchange = lookup("exchange", exchange_name)
        frame = lookup("frame", frame_name)
        for risk_name in strategy.risk_names:
            lookup("risk", risk_name)
        pair = (symbol, strategy_name)
        self._runs.claim([pair])
        cfg = snapshot()
        ctx = RunContext(store=CandleStore(exchange, cfg), cfg=cfg, exchange=exchange, backtest=True,
                         frame_name=frame_name)
        machine = PairMachine(ctx, strategy, symbol, result_sinks=(self._record,))
        self._start_pair(machine)
        released = threading.Event()

        def release(status: str = "failed") -> None:
            if not released.is_set():
                released.set()
                self._runs.release(pair, status)

        return RunHandle(self._loop(machine, frame, release), release)

    def _start_pair(self, machine: PairMachine) -> None:
        """SPEC §7.8: the pair's stores and state start empty."""
        key = (machine.symbol, machine.strategy_name)
        self._limits = machine.cfg
        self._closed.clear((*key, True))
        self._machines[key] = machine

    def _record(self, result: TickResult) -> None:
        if isinstance(result, ClosedResult):
            self._closed.add((result.symbol, result.strategy_name, True), result,
                             self._limits.CC_BACKTEST_MAX_SIGNALS)

    def _loop(self, machine: PairMachine, frame: FrameSchema, release: Callable[[str], None]) -> Iterator[Final]:
        start, step, total = frame_bounds(frame, clock.now())
        perf = PerfTimer(machine.symbol, machine.strategy_name, machine.exchange_name, True)
        run_started = perf.start()
        on_timeframe = frame.callbacks.get("on_timeframe")
        if on_timeframe is not None:
            call_user(on_timeframe, [start + k * step for k in range(total)], start, start + (total - 1) * step
                      if total else min(frame.end_ms, clock.now()), frame.interval, where="on_timeframe",
                      symbol=machine.symbol, strategy_name=machine.strategy_name)
        status = "failed"
        i = 0
        progress_topic, perf_topic = events.backtest_progress, events.performance
        signal_topic, mode_topic = events.signal, machine.mode_topic
        idle_callbacks = machine.idle_callbacks
        try:
            with run_context(machine.ctx):
                while i < total:
                    if progress_topic.listeners:
                        self._progress(machine, total, i)
                    holds = machine.pending is not None or machine.scheduled is not None
                    if machine.stopped and not holds:
                        break
                    when = start + i * step
                    started = time.perf_counter() if perf_topic.listeners else 0.0
                    if not holds:
                        if machine.due(when):
                            machine.intake(when)
                            holds = machine.pending is not None or machine.scheduled is not None
                        else:
                            machine.idle_step(when)
                    if not holds:
                        if machine.outbox:
                            machine.outbox.clear()
                        if started:
                            perf.emit("backtest_timeframe", started)
                        i += 1
                        # nobody sees the steps in between: jump to the next due one (SPEC §7.2)
                        last_call = machine.last_call
                        if last_call is not None and not (progress_topic.listeners or perf_topic.listeners
                                                          or signal_topic.listeners or mode_topic.listeners
                                                          or idle_callbacks):
                            due_at = last_call + machine.interval_ms
                            if due_at > start + i * step:
                                i = -(-(due_at - start) // step)
                        continue
                    try:
                        machine.evaluate(clock.now())
                    except CandleDataError as exc:
                        emit_error(exc)
                        machine.outbox.clear()
                        perf.emit("backtest_signal", started)
                        i += 1
                        continue
                    finals = [r for r in machine.outbox if isinstance(r, (ClosedResult, CancelledResult))]
                    machine.outbox.clear()
                    yield from finals
                    perf.emit("backtest_signal", started)
                    if machine.holds:
                        self._unresolved(machine)
                        break
                    i = max(i, -(-(finals[-1].close_timestamp - start) // step))
            status = "done"
        finally:
            machine.close()
            if events.backtest_progress.listeners:
                self._progress(machine, total, total)
            perf.emit("backtest_total", run_started)
            release(status)
            events.done_backtest.emit(DoneContract(machine.exchange_name, machine.strategy_name, True, machine.symbol))

    @staticmethod
    def _progress(machine: PairMachine, total: int, processed: int) -> None:
        events.backtest_progress.emit(BacktestProgress(machine.exchange_name, machine.strategy_name, machine.symbol,
                                                       total, processed, processed / total if total else 1.0))

    @staticmethod
    def _unresolved(machine: PairMachine) -> None:
        """SPEC §7.4: the row outlives ``now``: report it as ``active`` and end the run."""
        log.warning("backtest of %s/%s ends with an unresolved signal at %d", machine.symbol,
                    machine.strategy_name, machine.cursor)
        with run_context(machine.ctx):
            machine.publish_active(machine.cursor, machine._vwap_or_none(machine.cursor))
        machine.outbox.clear()

    def background(self, symbol: str, *, strategy_name: str, exchange_name: str, frame_name: str) -> Callable[[], None]:
        """Run in a daemon thread; returns a function that stops the run."""
        handle = self.run(symbol, strategy_name=strategy_name, exchange_name=exchange_name, frame_name=frame_name)

        def consume() -> None:
            try:
                for _ in handle:
                    pass
            except Exception as exc:
                log.exception("background backtest of %s/%s failed", symbol, strategy_name)
                events.exit_.emit(exc)

        threading.Thread(target=consume, daemon=True, name=f"btk-backtest-{symbol}-{strategy_name}").start()
        return lambda: self.stop(symbol, strategy_name)

    def stop(self, symbol: str, strategy_name: str) -> None:
        """No new signal; a waiting row is cancelled at its next candle; a position completes (SPEC §7.7)."""
        machine = self._machines.get((symbol, strategy_name))
        if machine is not None:
            machine.stopped = True

    def cancel(self, symbol: str, strategy_name: str, cancel_id: str | None = None) -> bool:
        """Ask to cancel the pair's waiting row; False when it has none."""
        machine = self._machines.get((symbol, strategy_name))
        if machine is None or machine.scheduled is None:
            return False
        machine.cancel_request = (cancel_id,)
        return True

    # ---- reading ------------------------------------------------------------------
    def _machine(self, symbol: str, strategy_name: str) -> PairMachine | None:
        lookup("strategy", strategy_name)
        return self._machines.get((symbol, strategy_name))

    def get_pending_signal(self, symbol: str, strategy_name: str) -> SignalRow | None:
        machine = self._machine(symbol, strategy_name)
        return machine.pending if machine else None

    def get_scheduled_signal(self, symbol: str, strategy_name: str) -> SignalRow | None:
        machine = self._machine(symbol, strategy_name)
        return machine.scheduled if machine else None

    def get_data(self, symbol: str, strategy_name: str) -> BacktestStatistics:
        lookup("strategy", strategy_name)
        return backtest_statistics(self._closed.items((symbol, strategy_name, True)))

    def list(self) -> list[RunStatus]:
        return self._runs.listing()


Backtest = BacktestApi()
