"""A backtest run's lanes: one per (symbol, strategy) pair, with its frame position and planned events."""
from __future__ import annotations

from collections import deque
from typing import Any

from ..pair_machine import PairMachine, PlanItem
from ..perf import PerfTimer
from ..queues import TimingLog

POSITION, WAITING, FRAME = 1, 2, 3  # event classes, in their order at equal times (SPEC §8)

class Lane:
    """One pair inside a run: its machine, frame position and the events it has planned."""

    __slots__ = ("machine", "index", "i", "token", "plan", "perf", "started", "finished", "status", "sweeps",
                 "handed_over", "candles")

    def __init__(self, machine: PairMachine, index: int, perf_log: TimingLog) -> None:
        self.machine = machine
        self.index = index
        self.i = 0                      # next frame index
        self.token = 0                  # invalidates heap entries when the lane is rescheduled
        self.plan: deque[PlanItem] = deque()
        self.perf = PerfTimer(machine.symbol, machine.strategy_name, machine.exchange_name, True, perf_log)
        self.started = 0.0              # perf_counter at the start of the current fast-forward
        self.finished = False
        self.status = "running"
        self.sweeps = False             # its trades may be computed by ``sweep.py`` (set when the run starts)
        self.handed_over = False        # the sweep gave the lane's next frame step to the general loop
        self.candles: Any = None        # the sweep's 1m columns of the run (modes/sweep.py), read once


class Run:
    """State shared by the lanes of one run: the frame geometry and the dirty set that lets
    cancel/stop reschedule a lane."""

    def __init__(self, lanes: list[Lane]) -> None:
        self.lanes = lanes
        self.start = self.step = self.total = 0
        self.by_pair = {(lane.machine.symbol, lane.machine.strategy_name): lane for lane in lanes}
        self.dirty: set[tuple[str, str]] = set()
