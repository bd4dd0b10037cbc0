"""Ctrl-C and SIGTERM stop a backtest flow within a second, and nothing of it is cached.

While ``stop_backtests_on_signals()`` is active (the flow's main thread), the first SIGINT or SIGTERM stops
every backtest running in this process (``Backtest.stop``: no new signal, a held row resolves at once in a
fast-forward) and makes ``run_backtest`` tasks that start or finish afterwards raise ``Interrupted``, so a
stopped run's partial results are never cached as if complete; the flow then ends Cancelled. A second
SIGINT interrupts at once. Backtests in other processes (``process``/``dask`` runners) are not reached.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

INTERRUPTED = threading.Event()
received: list[int] = []  # the signals of the current (or last) interrupted flow, for the exit code


class Interrupted(Exception):
    """The backtest was stopped by a signal; its partial results are not kept."""


def check() -> None:
    """Raise ``Interrupted`` when a signal stopped the run (called by ``run_backtest``)."""
    if INTERRUPTED.is_set():
        raise Interrupted("stopped by " + " then ".join(signal.Signals(s).name for s in received))


@contextmanager
def stop_signals(act: Callable[[int], None]) -> Iterator[tuple[list[int], dict[int, Any]]]:
    """While the block runs (in the main thread), the first SIGINT or SIGTERM calls ``act(signum)`` instead of
    interrupting; a second SIGINT raises ``KeyboardInterrupt`` at once. Yields the signals received and the
    handlers that were there before (restored afterwards)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received, {}
        return

    def handler(signum: int, frame: object) -> None:
        if signum == signal.SIGINT and signal.SIGINT in received:
            raise KeyboardInterrupt
        received.append(signum)
        act(signum)

    previous: dict[int, Any] = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received, previous
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def stop_backtests_on_signals() -> Iterator[list[int]]:
    """``stop_signals`` that stops every backtest of this process and marks the run interrupted."""
    import btk_core as bt
    received.clear()
    INTERRUPTED.clear()

    def stop_all(signum: int) -> None:
        received.append(signum)
        INTERRUPTED.set()
        for run in bt.Backtest.list():
            if run.status == "running":
                bt.Backtest.stop(run.symbol, run.strategy_name)

    with stop_signals(stop_all):
        yield received
