"""Live mode (SPEC §9): the same pair state machine, ticked by the clock, with crash-safe state.

Each tick evaluates the held row on the 1m candles closed since the last evaluation (the same
code as a backtest's fast-forward, with horizon ``when``), or asks ``get_signal`` when the pair
is due. Every state change is written through the persistence adapters before the tick returns,
so a process killed at any instant restarts from the old or the new state and catches up on
every candle it missed.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .. import clock, events
from ..broker import Broker, EntrySizing, OrderDesk, make_broker
from ..candle_store import CandleStore
from ..config import snapshot
from ..context import RunContext, run_context
from ..errors import CandleDataError
from ..events import emit_error
from ..fmt import describe_result, iso, short_price
from ..guard import call_user
from ..pair_machine import PairMachine
from ..perf import PerfTimer
from ..persist.lock import PairLock
from ..persist.state import LiveRiskBooks, PairPersistence
from ..registry import lookup
from ..reports import stores as report_stores
from ..results import CancelledResult, ClosedResult, DoneContract, OpenedResult, RunState, RunStatus, ScheduledResult
from ..risk import ActivePosition, RiskGate
from ..runs import RunRegistry
from ..signals import SignalRow
from ..stats import LiveStatistics, Span, live_statistics
from .background import consume_in_background
from .pairs import PairModeApi

log = logging.getLogger("btk")
Yielded = OpenedResult | ClosedResult | CancelledResult


class LiveApi(PairModeApi):
    """``Live``: run a strategy every ``CC_LIVE_TICK_TTL_MS`` with state that survives a kill."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Forget every run (tests; a fresh process starts like this)."""
        self._runs = RunRegistry("live")
        self._machines: dict[tuple[str, str], PairMachine] = {}
        self._wakeups: dict[tuple[str, str], threading.Event] = {}
        self._halts: set[tuple[str, str]] = set()  # halted before or during their run
        self._stops: set[tuple[str, str]] = set()  # stopped before or during their run
        self._started: dict[tuple[str, str], int] = {}  # when each pair's run started (its statistics' span)
        self._risk = LiveRiskBooks()
        self._desks: dict[tuple[str, str], OrderDesk] = {}

    def run(self, symbol: str, *, strategy_name: str, exchange_name: str, broker: Broker | str | None = "paper",
            sizing: EntrySizing | None = None) -> Iterator[Yielded]:
        """Tick the pair until it is stopped; yields every ``opened``, ``closed`` and ``cancelled`` result.

        ``broker`` turns the signals into orders (``"paper"`` by default, ``"ccxt"``, ``"ccxt-dry"``, ``"none"``
        or a ``Broker``), sized by ``sizing`` (10 % of the balance per entry by default). The pair's lock is
        taken here, before the first tick: a second run of the same pair, in this process or another one
        sharing ``CC_PERSIST_BASE_DIR``, fails at once with ``AlreadyRunningError`` naming the holder (SPEC
        §20.1.4)."""
        strategy = lookup("strategy", strategy_name)
        exchange = lookup("exchange", exchange_name)
        for risk_name in strategy.risk_names:
            lookup("risk", risk_name)
        chosen = make_broker(broker, symbol=symbol, strategy_name=strategy_name, exchange=exchange)
        key = (symbol, strategy_name)
        self._runs.claim([key])
        self._halts.discard(key)
        self._stops.discard(key)
        lock = PairLock(snapshot().CC_PERSIST_BASE_DIR, symbol, strategy_name)
        try:
            lock.acquire()
        except BaseException:
            self._runs.release(key, "failed")
            raise
        return self._loop(symbol, strategy, exchange, lock, chosen, sizing)

    def _loop(self, symbol: str, strategy: Any, exchange: Any, lock: PairLock, broker: Broker | None,
              sizing: EntrySizing | None) -> Iterator[Yielded]:
        key = (symbol, strategy.strategy_name)
        status: RunState = "failed"
        try:
            cfg = snapshot()
            base_dir = cfg.CC_PERSIST_BASE_DIR
            ctx = RunContext(store=CandleStore(exchange, cfg), cfg=cfg, exchange=exchange, backtest=False)
            persistence = PairPersistence(symbol, strategy.strategy_name, exchange.exchange_name, base_dir)
            gate = None
            if strategy.risk_names:
                self._risk.prepare(strategy.risk_names, base_dir, cfg)
                gate = RiskGate(self._risk.book, strategy.risk_names)
            store_key = (symbol, strategy.strategy_name, False)
            desk = None
            if broker is not None:
                broker.start(base_dir)  # fails the run at once: no credentials, unknown market, venue down
                desk = OrderDesk(broker, symbol=symbol, strategy_name=strategy.strategy_name,
                                 interval=strategy.interval, base_dir=base_dir, sizing=sizing)
                self._desks[key] = desk
            else:
                self._desks.pop(key, None)
            machine = PairMachine(ctx, strategy, symbol, risk=gate, persistence=persistence,
                                  sinks=(self._sink(cfg),),
                                  partial_log=report_stores.PARTIAL.open(store_key, cfg.CC_PARTIAL_MAX_EVENTS,
                                                                         fresh=False),
                                  orders=desk.handle if desk is not None else None)
            if key in self._stops:  # a stop asked between run() and the first tick counts
                machine.stop()
            self._machines[key] = machine
            wakeup = self._wakeups.setdefault(key, threading.Event())
            wakeup.clear()
            report_stores.LIVE.clear(symbol, strategy.strategy_name)
            self._started[key] = clock.now()
            with run_context(ctx):
                adopted = self._restore(machine, persistence)
                if desk is not None:  # after the repeats of undelivered notifications, which may place orders
                    desk.reconcile(machine.pending, machine.scheduled)
                log.info("live %s %s on %s: tick %s s, state in %s; %s; orders: %s", symbol, strategy.strategy_name,
                         exchange.exchange_name, f"{cfg.CC_LIVE_TICK_TTL_MS / 1000:g}", base_dir, adopted,
                         broker.name if broker is not None else "none (signals only)")
                perf = PerfTimer(symbol, strategy.strategy_name, exchange.exchange_name, False,
                                 report_stores.PERFORMANCE.open(store_key, cfg.CC_PERFORMANCE_MAX_EVENTS, fresh=False))
                previous: int | None = None
                ticks = 0
                while True:
                    when = clock.now()
                    if previous is not None and when < previous:
                        log.warning("live clock went back from %d to %d for %s/%s", previous, when, *key)
                    started = perf.start()
                    self._tick(machine, when)
                    if desk is not None:
                        desk.tick(machine.pending or machine.scheduled)
                    perf.emit("live_tick", started)
                    previous = when
                    ticks += 1
                    finals = [r for r in machine.outbox if isinstance(r, (OpenedResult, ClosedResult, CancelledResult))]
                    for result in machine.outbox:
                        if isinstance(result, (ScheduledResult, OpenedResult, ClosedResult, CancelledResult)):
                            log.info("%s", describe_result(result))
                    machine.outbox.clear()
                    for k, result in enumerate(finals):
                        try:
                            yield result
                        except GeneratorExit:  # closed by the consumer: settled once it has had them all
                            if k == len(finals) - 1:
                                persistence.settle(machine.snapshot())
                            raise
                    persistence.settle(machine.snapshot())  # delivered and yielded (SPEC §20.2)
                    if key in self._halts or (machine.stopped and not machine.holds):
                        break
                    if ticks % cfg.CC_LIVE_HEARTBEAT_TICKS == 0:
                        log.info("live %s %s: alive at %s after %d ticks; %s", symbol, strategy.strategy_name,
                                 iso(when), ticks, _holding(machine))
                    clock.wait(cfg.CC_LIVE_TICK_TTL_MS / 1000, wakeup)
            if key in self._halts:
                log.info("live %s %s halted; %s stays in the stores for the next run", symbol,
                         strategy.strategy_name, _holding(machine))
            status = "done"
        finally:
            lock.release()
            self._halts.discard(key)
            self._stops.discard(key)
            held = self._machines.get(key)
            if held is not None:
                held.close()
                held.store.release()
            self._runs.release(key, status)
            events.done_live.emit(DoneContract(exchange.exchange_name, strategy.strategy_name, False, symbol))

    @staticmethod
    def _sink(cfg: Any) -> Callable[[object], None]:
        return lambda item: report_stores.record_result(item, cfg)

    def _restore(self, machine: PairMachine, persistence: PairPersistence) -> str:
        """SPEC §9.4, §20.1, §20.2: adopt the pair's own state, reconcile its risk key, deliver again what a
        killed run had not delivered (in order, before the first step); restored rows are not re-emitted.
        Returns what was adopted, in words."""
        restored = persistence.restore(machine.cfg)
        machine.restore(restored.state)
        pending, scheduled = restored.state.pending, restored.state.scheduled
        if machine.strategy.risk_names:
            own = (lambda: ActivePosition(machine.strategy_name, machine.symbol, machine.exchange_name, pending,
                                          pending.pending_at)) if pending is not None else (lambda: None)
            self._risk.reconcile(machine.strategy.risk_names, own, f"{machine.strategy_name}:{machine.symbol}")
        for notice in restored.undelivered:  # yielded with the first tick, which then clears their record
            log.info("delivering again after a restart: %s", notice.delivery_id)
            machine.deliver(notice)
        now = clock.now()
        if pending is not None:
            self._callback(machine, "on_active", pending, machine._vwap_or_none(now))
        elif scheduled is not None:
            self._callback(machine, "on_schedule", scheduled, machine._vwap_or_none(now))
        return "adopted " + _holding(machine) if machine.holds else "nothing to adopt, flat"

    # ---- control --------------------------------------------------------------------
    def background(self, symbol: str, *, strategy_name: str, exchange_name: str) -> Callable[[], None]:
        """Run in a daemon thread; returns a function that stops the run."""
        handle = self.run(symbol, strategy_name=strategy_name, exchange_name=exchange_name)
        consume_in_background(handle, f"live-{symbol}-{strategy_name}")
        return lambda: self.stop(symbol, strategy_name)

    @staticmethod
    def _callback(machine: PairMachine, name: str, row: SignalRow, price: float | None) -> None:
        fn = machine.callbacks.get(name)
        if fn is not None:
            call_user(fn, machine.symbol, row, price, False, where=name, symbol=machine.symbol,
                      strategy_name=machine.strategy_name)

    @staticmethod
    def _tick(machine: PairMachine, when: int) -> None:
        """SPEC §4.5 live step: evaluate a held row up to ``when`` (still held: ``active``); then, with no
        row held, intake when due, else idle. Reading "no row held" after the evaluation lets the tick that
        closes a position decide again, as a backtest resumes at the close (§7.3), and makes a tick that is
        re-run after a crash give the same result as the original."""
        if machine.holds:
            try:
                machine.evaluate(when)
            except CandleDataError as exc:
                emit_error(exc)
                return
            if machine.holds:
                machine.publish_active(when, machine._vwap_or_none(when))
                return
        if machine.due(when):
            machine.intake(when)
        else:
            machine.idle_step(when)

    # ---- control --------------------------------------------------------------------
    def halt(self, symbol: str, strategy_name: str) -> None:
        """End the run after the current tick (at once when it is sleeping), leaving every row where it is:
        an open position and a waiting entry stay in the stores and the next run adopts them (Ctrl-C and a
        cancelled flow run; unlike ``stop``, nothing is cancelled or waited for)."""
        self._halts.add((symbol, strategy_name))
        wakeup = self._wakeups.get((symbol, strategy_name))
        if wakeup is not None:
            wakeup.set()

    def stop(self, symbol: str, strategy_name: str) -> None:
        """No new signals; a waiting row is cancelled at the next tick; a position runs to its close (§9.6).
        Also before the run's first tick, once ``run`` was called."""
        self._stops.add((symbol, strategy_name))
        machine = self._machines.get((symbol, strategy_name))
        if machine is not None:
            machine.stop()
        wakeup = self._wakeups.get((symbol, strategy_name))
        if wakeup is not None:
            wakeup.set()

    def cancel(self, symbol: str, strategy_name: str, cancel_id: str | None = None) -> bool:
        """Cancel the pair's waiting row at the next tick; False when it has none."""
        return self._request_cancel(symbol, strategy_name, cancel_id)

    # ---- reading -------------------------------------------------------------------
    def get_data(self, symbol: str, strategy_name: str) -> LiveStatistics:
        lookup("strategy", strategy_name)
        started = self._started.get((symbol, strategy_name))
        span = Span(started, clock.now()) if started is not None else None
        return live_statistics(report_stores.LIVE.items(symbol, strategy_name), span)

    def get_report(self, symbol: str, strategy_name: str) -> str:
        from ..reports.documents import live_report
        from ..reports.ledger import broker_lines
        report = live_report(strategy_name, self.get_data(symbol, strategy_name))
        desk = self._desks.get((symbol, strategy_name))
        return report if desk is None else report + broker_lines(desk)

    def get_ledger(self, symbol: str, strategy_name: str) -> OrderDesk | None:
        """The order desk of the pair's latest run in this process (orders, round trips, mismatches), or None
        when it ran without a broker."""
        return self._desks.get((symbol, strategy_name))

    def get_ledger_report(self, symbol: str, strategy_name: str) -> str:
        """Balances, orders, fills, fees, round trips and mismatches of the pair's broker (markdown)."""
        from ..reports.ledger import ledger_report
        desk = self._desks.get((symbol, strategy_name))
        if desk is None:
            raise ValueError(f"{symbol} {strategy_name} has no broker ledger in this process (run it live with a "
                             "broker first)")
        return ledger_report(desk)

    def dump_ledger(self, symbol: str, strategy_name: str, path: str = "./dump/ledger") -> str:
        from ..reports.documents import pair_file
        from ..reports.render import dump
        return dump(self.get_ledger_report(symbol, strategy_name), path, pair_file(symbol, strategy_name))

    def dump(self, symbol: str, strategy_name: str, path: str = "./dump/live") -> str:
        from ..reports.documents import pair_file
        from ..reports.render import dump
        return dump(self.get_report(symbol, strategy_name), path, pair_file(symbol, strategy_name))

    def list(self) -> list[RunStatus]:
        return self._runs.listing()


def _holding(machine: PairMachine) -> str:
    """What the pair holds, in words, for the start, heartbeat and halt lines."""
    row = machine.pending or machine.scheduled
    if row is None:
        return "flat"
    what = "open position" if machine.pending is not None else "waiting limit entry"
    return (f"{what} {row.position} {row.id[:8]} entry {short_price(row.price_open)}, TP "
            f"{short_price(row.price_take_profit)}, SL {short_price(row.price_stop_loss)}")


Live = LiveApi()
