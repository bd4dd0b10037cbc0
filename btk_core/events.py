"""A small synchronous event bus and the public ``listen_*`` functions (SPEC §15).

Each topic keeps its listeners in an immutable tuple that is replaced on
(un)subscription, so emitters can test ``if topic.listeners:`` for free and
iterate without locks while other threads subscribe. A listener that raises
never breaks the run: its exception is logged and reported on ``listen_error``
(a raising ``listen_error`` listener is only logged).
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from .errors import wrap_user_error

log = logging.getLogger("btk")

Listener = Callable[[Any], Any]
Unsubscribe = Callable[[], None]


#: Changes whenever any topic gains or loses a listener: a loop that skips work nobody observes re-checks the
#: listeners only when it moved (``modes/sweep.py``).
generation = 0


def _changed() -> None:
    global generation
    generation += 1


class Topic:
    """One event stream with its subscribers."""

    __slots__ = ("name", "listeners", "_lock")

    def __init__(self, name: str) -> None:
        self.name = name
        self.listeners: tuple[Listener, ...] = ()
        self._lock = threading.Lock()

    def listen(self, fn: Listener) -> Unsubscribe:
        """Call ``fn(event)`` for every event until the returned function is called."""
        if not callable(fn):
            raise TypeError(f"listen_{self.name} needs a callable, got {fn!r}")
        entry = _Entry(fn)
        with self._lock:
            self.listeners = self.listeners + (entry,)
            _changed()
        return lambda: self._remove(entry)

    def listen_once(self, filter_fn: Callable[[Any], bool], fn: Listener) -> Unsubscribe:
        """Call ``fn`` for the first event that ``filter_fn`` accepts, then unsubscribe."""
        if not callable(filter_fn) or not callable(fn):
            raise TypeError(f"listen_{self.name}_once needs two callables")
        unsubscribe: Unsubscribe = lambda: None  # replaced below
        fired = threading.Event()

        def once(event: Any) -> None:
            if fired.is_set() or not filter_fn(event):
                return
            fired.set()
            unsubscribe()
            fn(event)

        unsubscribe = self.listen(once)
        return unsubscribe

    def _remove(self, entry: _Entry) -> None:
        with self._lock:
            self.listeners = tuple(e for e in self.listeners if e is not entry)
            _changed()

    def emit(self, event: Any) -> None:
        """Deliver ``event`` to every listener in subscription order, guarding each call."""
        for listener in self.listeners:
            try:
                listener(event)
            except Exception as exc:  # a listener must never break the run
                report_listener_failure(self.name, event, exc)

    def clear(self) -> None:
        with self._lock:
            self.listeners = ()
            _changed()


class _Entry:
    """Wraps a listener so the same function can be subscribed twice and removed once."""

    __slots__ = ("fn",)

    def __init__(self, fn: Listener) -> None:
        self.fn = fn

    def __call__(self, event: Any) -> Any:
        return self.fn(event)


TOPIC_NAMES = (
    "signal", "signal_backtest", "signal_live", "error", "exit",
    "done_backtest", "done_live", "done_walker",
    "backtest_progress", "walker_progress", "optimizer_progress", "performance",
    "walker", "walker_complete", "validation",
    "partial_profit", "partial_loss", "risk", "ping", "broker",
)
topics: dict[str, Topic] = {name: Topic(name) for name in TOPIC_NAMES}

signal = topics["signal"]
signal_backtest = topics["signal_backtest"]
signal_live = topics["signal_live"]
error = topics["error"]
exit_ = topics["exit"]
done_backtest = topics["done_backtest"]
done_live = topics["done_live"]
done_walker = topics["done_walker"]
backtest_progress = topics["backtest_progress"]
walker_progress = topics["walker_progress"]
optimizer_progress = topics["optimizer_progress"]
performance = topics["performance"]
walker = topics["walker"]
walker_complete = topics["walker_complete"]
validation = topics["validation"]
partial_profit = topics["partial_profit"]
partial_loss = topics["partial_loss"]
risk = topics["risk"]
ping = topics["ping"]
broker = topics["broker"]


#: Errors of one kind (same type and text once numbers are blanked) logged in full before they are only counted.
LOGGED_REPEATS = 5
#: Then every this many repeats one line says how many there were.
REPEAT_REPORT_EVERY = 1000
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")
_repeats: dict[str, int] = {}


def log_error(exc: BaseException) -> None:
    """Log an error; a kind that repeats (a strategy rejected at every step of a sweep) is logged
    ``LOGGED_REPEATS`` times in full, then counted, with a line every ``REPEAT_REPORT_EVERY``: thousands of
    identical lines would bury everything else and flood a Prefect run's log. Listeners still get every one."""
    name = type(exc).__name__
    if len(_repeats) > 10_000:
        _repeats.clear()
    key = name + ":" + _NUMBERS.sub("#", str(exc))
    count = _repeats[key] = _repeats.get(key, 0) + 1
    if count <= LOGGED_REPEATS:
        log.error("%s: %s", name, exc)
        if count == LOGGED_REPEATS:
            log.error("%s: the error above has now repeated %d times; more like it are counted, and logged once "
                      "every %d (listen_error sees each)", name, count, REPEAT_REPORT_EVERY)
    elif count % REPEAT_REPORT_EVERY == 0:
        log.error("%s repeated %d times, latest: %s", name, count, exc)


def emit_error(exc: BaseException) -> None:
    """Log a recoverable error and deliver it to ``listen_error``."""
    log_error(exc)
    for listener in error.listeners:
        try:
            listener(exc)
        except Exception:
            log.exception("a listen_error listener raised")


def report_listener_failure(topic: str, event: Any, exc: Exception) -> None:
    """Turn an exception raised by a listener into a ``UserCodeError`` on ``listen_error``."""
    if topic == "error":
        log.exception("a listen_error listener raised")
        return
    emit_error(wrap_user_error(exc, where=f"listen_{topic}",
                               symbol=getattr(event, "symbol", None),
                               strategy_name=getattr(event, "strategy_name", None)))


def reset_listeners() -> None:
    """Unsubscribe everybody and forget error repeats (tests)."""
    _repeats.clear()
    for topic in topics.values():
        topic.clear()


# ---- the public listen_* functions (SPEC §17.5) ----
def _listen_fn(topic: Topic, doc: str) -> Callable[[Listener], Unsubscribe]:
    def listen(fn: Listener) -> Unsubscribe:
        return topic.listen(fn)
    listen.__name__ = listen.__qualname__ = f"listen_{topic.name}"
    listen.__doc__ = f"{doc} Returns ``unsubscribe()``."
    return listen


def _listen_once_fn(topic: Topic) -> Callable[[Callable[[Any], bool], Listener], Unsubscribe]:
    def listen_once(filter_fn: Callable[[Any], bool], fn: Listener) -> Unsubscribe:
        return topic.listen_once(filter_fn, fn)
    listen_once.__name__ = listen_once.__qualname__ = f"listen_{topic.name}_once"
    listen_once.__doc__ = (f"Like ``listen_{topic.name}`` for the first event ``filter_fn`` accepts, "
                           "then unsubscribes. Returns ``unsubscribe()``.")
    return listen_once


listen_signal = _listen_fn(signal, "Every tick result of every mode.")
listen_signal_once = _listen_once_fn(signal)
listen_signal_backtest = _listen_fn(signal_backtest, "Backtest tick results, before ``listen_signal``.")
listen_signal_backtest_once = _listen_once_fn(signal_backtest)
listen_signal_live = _listen_fn(signal_live, "Live tick results, before ``listen_signal``.")
listen_signal_live_once = _listen_once_fn(signal_live)
listen_error = _listen_fn(error, "Recoverable errors: user code, data, persistence, walker strategy failures.")
listen_exit = _listen_fn(exit_, "An unexpected exception that ended a ``background()`` task.")
listen_done_backtest = _listen_fn(done_backtest, "``DoneContract`` once per backtest pair run.")
listen_done_backtest_once = _listen_once_fn(done_backtest)
listen_done_live = _listen_fn(done_live, "``DoneContract`` once per live pair run.")
listen_done_live_once = _listen_once_fn(done_live)
listen_done_walker = _listen_fn(done_walker, "``DoneContract`` once per walker run.")
listen_done_walker_once = _listen_once_fn(done_walker)
listen_backtest_progress = _listen_fn(backtest_progress, "``BacktestProgress`` at every loop iteration.")
listen_walker_progress = _listen_fn(walker_progress, "``WalkerProgress`` after each strategy.")
listen_optimizer_progress = _listen_fn(optimizer_progress, "``OptimizerProgress`` per data source.")
listen_performance = _listen_fn(performance, "``PerformanceContract`` timings.")
listen_walker = _listen_fn(walker, "``WalkerContract`` per tested strategy.")
listen_walker_once = _listen_once_fn(walker)
listen_walker_complete = _listen_fn(walker_complete, "``WalkerCompleteContract`` at the end of a walker.")
listen_validation = _listen_fn(validation, "Exceptions raised inside risk validations.")
listen_partial_profit = _listen_fn(partial_profit, "``PartialContract`` for each profit milestone.")
listen_partial_profit_once = _listen_once_fn(partial_profit)
listen_partial_loss = _listen_fn(partial_loss, "``PartialContract`` for each loss milestone.")
listen_partial_loss_once = _listen_once_fn(partial_loss)
listen_risk = _listen_fn(risk, "``RiskContract`` for each risk rejection.")
listen_risk_once = _listen_once_fn(risk)
listen_ping = _listen_fn(ping, "``PingContract`` for each candle a scheduled signal waits through.")
listen_ping_once = _listen_once_fn(ping)
listen_broker = _listen_fn(broker, "``BrokerEvent`` for each order placed, filled, cancelled, rejected or failed by a "
                           "live run's broker, and each mismatch found with the venue.")
