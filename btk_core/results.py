"""Tick results and event payloads: frozen dataclasses (SPEC §4.1, §15)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .signals import SignalRow

CloseReason = Literal["take_profit", "stop_loss", "time_expired"]
CancelReason = Literal["timeout", "price_reject", "user", "risk_reject"]
Side = Literal["profit", "loss"]  # of a partial milestone


@dataclass(frozen=True, slots=True)
class Pnl:
    """Net result of a closed trade; ``price_open``/``price_close`` are the raw prices."""

    pnl_percentage: float
    price_open: float
    price_close: float


@dataclass(frozen=True, slots=True, kw_only=True)
class _Result:
    symbol: str
    strategy_name: str
    exchange_name: str
    backtest: bool
    current_price: float | None
    signal: SignalRow | None
    timestamp: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleResult(_Result):
    """Nothing held and nothing new at ``timestamp``."""

    action: Literal["idle"] = "idle"


class _Delivered:
    """A result that notifies a state change (SPEC §20.2): ``delivery_id`` is the same on every
    delivery of that change, so a consumer can deduplicate repeats after a restart."""

    __slots__ = ()

    @property
    def delivery_id(self) -> str:
        return f"{self.signal.id}:{self.action}"  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledResult(_Delivered, _Result):
    """A limit entry now waits for its price (``timestamp`` = ``scheduled_at``)."""

    signal: SignalRow

    action: Literal["scheduled"] = "scheduled"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedResult(_Delivered, _Result):
    """A position opened (``timestamp`` = ``pending_at``, ``current_price`` = ``price_open``)."""

    signal: SignalRow

    action: Literal["opened"] = "opened"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveResult(_Result):
    """A held row at ``timestamp``, with its progress towards TP and SL in percent."""

    percent_tp: float
    percent_sl: float
    action: Literal["active"] = "active"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedResult(_Delivered, _Result):
    """A position closed by take profit, stop loss or time."""

    signal: SignalRow

    close_reason: CloseReason
    close_timestamp: int
    pnl: Pnl
    action: Literal["closed"] = "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelledResult(_Delivered, _Result):
    """A waiting row that never became a position."""

    signal: SignalRow

    reason: CancelReason
    close_timestamp: int
    cancel_id: str | None
    action: Literal["cancelled"] = "cancelled"


TickResult = IdleResult | ScheduledResult | OpenedResult | ActiveResult | ClosedResult | CancelledResult


@dataclass(frozen=True, slots=True)
class PartialContract:
    """A profit or loss milestone reached by an open position (SPEC §5.5)."""

    symbol: str
    strategy_name: str
    exchange_name: str
    signal: SignalRow
    current_price: float
    level: float
    backtest: bool
    timestamp: int
    kind: Side = "profit"

    @property
    def delivery_id(self) -> str:
        """``<signal id>:partial_<kind>:<level>``, identical across repeated deliveries (SPEC §20.2)."""
        return f"{self.signal.id}:partial_{self.kind}:{self.level:g}"


@dataclass(frozen=True, slots=True)
class PingContract:
    """A candle a waiting row lived through without activating (SPEC §5.4)."""

    symbol: str
    strategy_name: str
    exchange_name: str
    signal: SignalRow
    backtest: bool
    timestamp: int


@dataclass(frozen=True, slots=True)
class DoneContract:
    """A pair run ended."""

    exchange_name: str
    strategy_name: str
    backtest: bool
    symbol: str


@dataclass(frozen=True, slots=True)
class BacktestProgress:
    exchange_name: str
    strategy_name: str
    symbol: str
    total_frames: int
    processed_frames: int
    progress: float


@dataclass(frozen=True, slots=True)
class PerformanceContract:
    """One timing: ``timestamp`` is wall ms, ``duration`` float ms (SPEC §15)."""

    timestamp: int
    previous_timestamp: int | None
    metric_type: str
    duration: float
    strategy_name: str
    exchange_name: str
    symbol: str
    backtest: bool


RunState = Literal["ready", "running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A pair run as listed by ``Backtest.list()`` / ``Live.list()``."""

    id: str
    symbol: str
    strategy_name: str
    status: RunState
