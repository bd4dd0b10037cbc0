"""``live_flow``: one long-lived live run of a (symbol, strategy) pair.

The run resumes from the persisted state (SPEC §9.4) every time the flow starts, so a crashed or
cancelled flow run is simply started again. Cancelling the flow run maps to ``Live.stop``: the runner's
SIGTERM stops the pair after the tick in progress (its state written, an open position left in the
stores for the next run), then Prefect's own cancellation handling runs (state Cancelled, the
``on_cancellation`` hook). A kill without SIGTERM ends the process with the stores as the last tick left
them, which the next run adopts as well (§18). A global concurrency limit of one per pair keeps two flow
runs from trading the same pair.
"""
from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from prefect import flow, get_run_logger

from flows.setup_loader import load_setup

log = logging.getLogger("btk")


def pair_limit_name(symbol: str, strategy_name: str) -> str:
    from flows.tasks import artifact_key
    return artifact_key("btk-live", symbol, strategy_name)


def _ensure_limit(name: str) -> None:
    """Create the pair's concurrency limit (1) on the Prefect server if it does not exist yet."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists
    with get_client(sync_client=True) as client:
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
        except ObjectAlreadyExists:
            pass


def _log_state(flow: Any, flow_run: Any, state: Any) -> None:
    log.warning("live flow run %s ended as %s; the stores keep the pair's state for the next run",
                flow_run.name, state.type.value)


@contextmanager
def stop_on_sigterm(symbol: str, strategy_name: str) -> Iterator[None]:
    """While the block runs, SIGTERM (Prefect's runner cancelling the flow run) calls ``Live.stop``. A flat
    or waiting pair then ends its loop after the current tick and the previous handler (Prefect's
    cancellation bridge) gets the signal afterwards; a pair holding an open position hands the signal on at
    once, leaving the position in the stores for the next run (SPEC §9.6: a stopped live pair would otherwise
    keep evaluating it until it closes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import btk_core as bt
    received: list[tuple[int, Any]] = []

    def handler(signum: int, frame: Any) -> None:
        bt.Live.stop(symbol, strategy_name)
        if bt.Live.get_pending_signal(symbol, strategy_name) is not None and callable(previous):
            log.warning("SIGTERM: live %s/%s ends now; its open position stays in the stores", symbol, strategy_name)
            previous(signum, frame)
            return
        log.warning("SIGTERM: live %s/%s stops after the current tick", symbol, strategy_name)
        received.append((signum, frame))

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
    if received and callable(previous):
        previous(*received[0])


@flow(name="btk-live", on_cancellation=[_log_state], on_crashed=[_log_state])
def live_flow(setup: str, symbol: str, strategy_name: str, exchange_name: str) -> dict[str, Any]:
    """Tick the pair until ``Live.stop`` (or the process ends); returns the trades this run closed."""
    import btk_core as bt
    from prefect.concurrency.sync import concurrency
    load_setup(setup)
    logger = get_run_logger()
    name = pair_limit_name(symbol, strategy_name)
    _ensure_limit(name)
    closed = []
    with concurrency(name, occupy=1, strict=True), stop_on_sigterm(symbol, strategy_name):
        for result in bt.Live.run(symbol, strategy_name=strategy_name, exchange_name=exchange_name):
            logger.info("%s %s %s at %s", result.action, result.symbol, result.signal.id, result.timestamp)
            if result.action == "closed":
                closed.append({"id": result.signal.id, "close_reason": result.close_reason,
                               "close_timestamp": result.close_timestamp,
                               "pnl": result.pnl.pnl_percentage})
    return {"symbol": symbol, "strategy": strategy_name, "closed": closed}
