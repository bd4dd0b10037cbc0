"""Which pairs are inside a run, per mode (SPEC §17.4: one run at a time per pair)."""
from __future__ import annotations

import threading

from .errors import AlreadyRunningError
from .results import RunState, RunStatus


class RunRegistry:
    """Claims (symbol, strategy) pairs for the duration of a run and remembers how each run ended."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._lock = threading.Lock()
        self._running: set[tuple[str, str]] = set()
        self._status: dict[tuple[str, str], RunState] = {}

    def claim(self, pairs: list[tuple[str, str]]) -> None:
        """Claim every pair or none; ``AlreadyRunningError`` names the first busy pair."""
        with self._lock:
            for symbol, strategy_name in pairs:
                if (symbol, strategy_name) in self._running:
                    raise AlreadyRunningError(
                        f"{self.mode} run already in progress for symbol={symbol} strategy={strategy_name}")
            for pair in pairs:
                self._running.add(pair)
                self._status[pair] = "running"

    def release(self, pair: tuple[str, str], status: RunState) -> None:
        with self._lock:
            if pair in self._running:
                self._running.discard(pair)
                self._status[pair] = status

    def listing(self) -> list[RunStatus]:
        with self._lock:
            return [RunStatus(f"{self.mode}:{s}:{g}", s, g, status) for (s, g), status in self._status.items()]
