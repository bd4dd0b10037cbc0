"""The only way the engine reads the wall clock or sleeps (SPEC §0.2, §17.2).

Tests replace both with ``set_clock`` so that live loops, retries and frame
clamping run on simulated time.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


def _system_now_ms(_time_ns: Callable[[], int] = time.time_ns) -> int:
    return _time_ns() // 1_000_000


#: Current time in ms according to the installed clock (rebound by ``set_clock``; call it as ``clock.now()``).
now: Callable[[], int] = _system_now_ms
#: Seconds for measuring how long something took: ``time.perf_counter`` on the system clock (a wall-clock step
#: cannot distort it, and it is a plain C call for code that times every step); the installed clock otherwise,
#: so tests that fake time fake durations too.
seconds: Callable[[], float] = time.perf_counter
_sleep: Callable[[float], None] = time.sleep


def set_clock(now_ms: Callable[[], int] | None = None,
              sleep: Callable[[float], None] | None = None) -> None:
    """Install a clock (``now_ms() -> int``) and a sleeper (``sleep(seconds)``); ``None`` restores the system one."""
    global now, _sleep, seconds
    now = now_ms or _system_now_ms
    seconds = time.perf_counter if now_ms is None else (lambda: now_ms() / 1000)
    _sleep = sleep or time.sleep


def pause(seconds: float) -> None:
    """Sleep through the installed sleeper."""
    _sleep(seconds)


def wait(seconds: float, interrupt: threading.Event) -> None:
    """Sleep ``seconds``, waking early when ``interrupt`` is set (only possible on the system sleeper;
    an installed sleeper is called as is, so tests keep simulated time)."""
    if _sleep is time.sleep:
        interrupt.wait(seconds)
    else:
        _sleep(seconds)
