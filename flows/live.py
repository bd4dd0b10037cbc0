"""``live_flow``: one long-lived live run of a (symbol, strategy) pair.

Its signals become orders through a broker (a paper account per pair by default, or the pair's ccxt exchange;
docs/broker.md); the ledger — balances, orders, fills, fees, mismatches with the venue — is kept as a second
artifact. The run resumes from the persisted state (SPEC §9.4, §20.1) every time the flow starts, so a crashed,
killed or cancelled flow run is simply started again. One run per pair is guaranteed by the engine's file
lock under ``CC_PERSIST_BASE_DIR`` (it dies with its holder), not by a lease in a Prefect server that may be
gone: a second run fails at once naming the holder, a restart after ``kill -9`` takes over at once.

Ctrl-C (SIGINT) and a cancelled flow run (the runner's SIGTERM) call ``Live.halt``: the tick in progress ends,
every row stays in the stores for the next run, and the flow run ends Completed (Ctrl-C) or Cancelled (the
runner's cancellation then proceeds); a second Ctrl-C interrupts at once. While it runs, the flow logs a
start line, a heartbeat and every event in words, keeps a markdown artifact per pair up to date and emits a
Prefect event per opened, closed and cancelled position (resource ``btk.pair.<symbol>.<strategy>``), so an
Automation can notify on them. At start it marks the pair's earlier runs still shown Running (their
process is gone: it held the lock) Crashed.
"""
from __future__ import annotations

import logging
import signal
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import flow, get_run_logger

from flows.interrupt import stop_signals
from flows.setup_loader import load_setup

log = logging.getLogger("btk")
RECENT_EVENTS = 20


def _log_state(flow: Any, flow_run: Any, state: Any) -> None:
    log.warning("live flow run %s ended as %s; the stores keep the pair's state for the next run",
                flow_run.name, state.type.value)


@contextmanager
def halt_on_signals(symbol: str, strategy_name: str) -> Iterator[list[int]]:
    """While the block runs, SIGINT and SIGTERM call ``Live.halt`` (the run ends after the tick in progress,
    its state kept). Yields the signals received. After the block, a SIGTERM is handed to the handler that
    was there before (Prefect's cancellation bridge), so a cancelled flow run ends Cancelled; a second SIGINT
    raises ``KeyboardInterrupt`` at once."""
    import btk_core as bt

    def halt(signum: int) -> None:
        log.warning("%s: live %s %s halts after the current tick; its state stays for the next run",
                    signal.Signals(signum).name, symbol, strategy_name)
        bt.Live.halt(symbol, strategy_name)

    with stop_signals(halt) as (received, previous):
        yield received
    bridge = previous.get(signal.SIGTERM)
    if signal.SIGTERM in received and callable(bridge):
        bridge(signal.SIGTERM, None)


@contextmanager
def btk_logs_to(logger: Any) -> Iterator[None]:
    """Forward the engine's ``btk`` log records (start line, heartbeat, events in words) to the run logger,
    so they show in the console and on the flow run's page."""
    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logger.log(record.levelno, record.getMessage())

    engine = logging.getLogger("btk")
    handler, level, propagate = Forward(logging.INFO), engine.level, engine.propagate
    engine.addHandler(handler)
    engine.setLevel(logging.INFO)
    engine.propagate = False  # printed once, by the run logger
    try:
        yield
    finally:
        engine.removeHandler(handler)
        engine.setLevel(level)
        engine.propagate = propagate


def mark_stale_runs_crashed(symbol: str, strategy_name: str) -> int:
    """Earlier ``btk-live`` runs of this pair still shown Running: their process is gone (this run holds the
    pair's lock), so they are set Crashed. Returns how many."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.context import get_run_context
    from prefect.states import Crashed
    own = get_run_context().flow_run.id  # type: ignore[union-attr]
    marked = 0
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["btk-live"])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.RUNNING]))))
        for run in runs:
            params = run.parameters or {}
            if run.id != own and params.get("symbol") == symbol and params.get("strategy_name") == strategy_name:
                client.set_flow_run_state(run.id, Crashed(message="its process died; a later run took the pair over"),
                                          force=True)
                marked += 1
    return marked


def emit_pair_event(result: Any) -> None:
    """A Prefect event per opened, closed and cancelled position, for Automations (never fails the run)."""
    from prefect.events import emit_event
    row = result.signal
    payload: dict[str, Any] = {"delivery_id": result.delivery_id, "signal_id": row.id, "position": row.position,
                               "price_open": row.price_open, "price_take_profit": row.price_take_profit,
                               "price_stop_loss": row.price_stop_loss, "timestamp": result.timestamp}
    if result.action == "closed":
        payload.update(close_reason=result.close_reason, pnl_percentage=result.pnl.pnl_percentage,
                       price_close=result.pnl.price_close)
    elif result.action == "cancelled":
        payload.update(reason=result.reason)
    try:
        emit_event(event=f"btk.position.{result.action}",
                   resource={"prefect.resource.id": f"btk.pair.{result.symbol}.{result.strategy_name}",
                             "prefect.resource.name": f"{result.symbol} {result.strategy_name}"},
                   payload=payload)
    except Exception as exc:  # events are a courtesy: the trade is already persisted and logged
        log.warning("could not emit the Prefect event of %s: %s", result.delivery_id, exc)


def status_markdown(symbol: str, strategy_name: str, exchange_name: str, recent: deque[str]) -> str:
    """The pair's artifact: the position now, the recent events and the statistics of this run."""
    import btk_core as bt
    pending = bt.Live.get_pending_signal(symbol, strategy_name)
    waiting = bt.Live.get_scheduled_signal(symbol, strategy_name)
    row = pending or waiting
    if row is None:
        now = "flat"
    else:
        what = "open position" if pending is not None else "waiting limit entry"
        now = (f"{what} **{row.position}** `{row.id[:8]}`: entry {row.price_open:.6g}, take profit "
               f"{row.price_take_profit:.6g}, stop loss {row.price_stop_loss:.6g}, "
               f"up to {row.minute_estimated_time} min")
    stats = bt.Live.get_data(symbol, strategy_name)
    fmt = (lambda v, unit="": "N/A" if v is None else f"{v:.2f}{unit}")
    lines = [f"# Live {symbol} {strategy_name} on {exchange_name}", "", f"**Now:** {now}", "",
             "## Statistics of this run", "", "| metric | value |", "| --- | --- |",
             f"| closed trades | {stats.total_closed} |", f"| win rate | {fmt(stats.win_rate, ' %')} |",
             f"| total PnL (sum of trade %) | {fmt(stats.total_pnl, ' %')} |",
             f"| average PnL | {fmt(stats.avg_pnl, ' %')} |", "",
             f"## Recent events (newest first, at most {RECENT_EVENTS})", ""]
    lines += [f"- {line}" for line in reversed(recent)] or ["- none yet"]
    desk = bt.Live.get_ledger(symbol, strategy_name)
    if desk is not None:
        lines += ["", f"**Orders:** {desk.broker.name}, {len(desk.orders)} orders, {len(desk.trades)} round trips, "
                      f"{len(desk.mismatches)} mismatch(es) with the venue (see the ledger artifact)."]
        lines += [f"- mismatch: {m['detail']}" for m in reversed(desk.mismatches[-5:])]
    return "\n".join(lines) + "\n"


def choose_broker(broker: str, symbol: str, strategy_name: str, paper_balance: float) -> Any:
    """``"paper"`` with the requested starting balance (the pair's own account); any other name as is."""
    import btk_core as bt
    return bt.PaperBroker.for_pair(symbol, strategy_name, paper_balance) if broker == "paper" else broker


@flow(name="btk-live", on_cancellation=[_log_state], on_crashed=[_log_state])
def live_flow(setup: str, symbol: str, strategy_name: str, exchange_name: str, broker: str = "paper",
              paper_balance: float = 10_000.0, stake_percentage: float = 10.0,
              sizing_name: str | None = None, report_dir: str = "./dump") -> dict[str, Any]:
    """Tick the pair until ``Live.stop``, Ctrl-C or cancellation, its signals traded by ``broker`` (``paper``,
    ``ccxt``, ``ccxt-dry`` or ``none``); when it ends, the live report and the ledger are written under
    ``report_dir`` (``live/``, ``ledger/``). Returns the trades this run closed, how it ended and the files."""
    from prefect.artifacts import create_markdown_artifact

    import btk_core as bt
    from btk_core.orchestration import describe_result
    from flows.tasks import artifact_key
    load_setup(setup)
    logger = get_run_logger()
    key = artifact_key("btk-live", symbol, strategy_name)
    ledger_key = artifact_key("btk-ledger", symbol, strategy_name)
    closed: list[dict[str, Any]] = []
    recent: deque[str] = deque(maxlen=RECENT_EVENTS)

    def publish() -> None:
        try:
            create_markdown_artifact(key=key, markdown=status_markdown(symbol, strategy_name, exchange_name, recent),
                                     description=f"live {symbol} {strategy_name}: position, events, statistics")
        except Exception as exc:
            log.warning("could not update the artifact %s: %s", key, exc)
        if bt.Live.get_ledger(symbol, strategy_name) is None:
            return
        try:
            create_markdown_artifact(key=ledger_key, markdown=bt.Live.get_ledger_report(symbol, strategy_name),
                                     description=f"ledger {symbol} {strategy_name}: balances, orders, fills, fees")
        except Exception as exc:
            log.warning("could not update the artifact %s: %s", ledger_key, exc)

    run = bt.Live.run(symbol, strategy_name=strategy_name, exchange_name=exchange_name,  # takes the pair's lock
                      broker=choose_broker(broker, symbol, strategy_name, paper_balance),
                      sizing=bt.EntrySizing(stake_percentage, sizing_name))
    with btk_logs_to(logger), halt_on_signals(symbol, strategy_name) as received:
        stale = mark_stale_runs_crashed(symbol, strategy_name)
        if stale:
            logger.warning("marked %d earlier run(s) of %s %s Crashed: their process is gone", stale, symbol,
                           strategy_name)
        publish()
        for result in run:
            recent.append(describe_result(result))
            emit_pair_event(result)
            publish()
            if result.action == "closed":
                closed.append({"id": result.signal.id, "close_reason": result.close_reason,
                               "close_timestamp": result.close_timestamp, "pnl": result.pnl.pnl_percentage})
        publish()
    ended = "halted by " + signal.Signals(received[0]).name if received else "stopped"
    files = [bt.Live.dump(symbol, strategy_name, f"{report_dir}/live")]
    if bt.Live.get_ledger(symbol, strategy_name) is not None:
        files.append(bt.Live.dump_ledger(symbol, strategy_name, f"{report_dir}/ledger"))
    return {"symbol": symbol, "strategy": strategy_name, "closed": closed, "ended": ended,
            "orders": orders_summary(symbol, strategy_name), "reports": files}


def orders_summary(symbol: str, strategy_name: str) -> str:
    """One line on the run's orders for the command's last line: broker, orders, mismatches, balance."""
    import btk_core as bt
    desk = bt.Live.get_ledger(symbol, strategy_name)
    if desk is None:
        return "no orders (signals only)"
    try:
        balance = f"{desk.broker.fetch_balance().get(desk.broker.quote, 0.0):.2f} {desk.broker.quote}"
    except Exception as exc:  # the venue may be down at exit: the line says so instead of failing the run
        balance = f"unreadable ({type(exc).__name__})"
    return (f"orders on {desk.broker.name}: {len(desk.orders)} order(s), {len(desk.mismatches)} mismatch(es), "
            f"balance {balance}")
