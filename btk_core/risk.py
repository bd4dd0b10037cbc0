"""Risk profiles: validations over the positions open right now, shared by every strategy
that names the profile (SPEC §10).

A :class:`RiskBook` holds, per risk name, the active positions keyed
``"<strategy_name>:<symbol>"``: one book per backtest run (a portfolio shares it in time
order), one per process in live. :class:`RiskGate` is what a pair's state machine asks
at intake and at activation; it runs the validations of every profile the strategy
names, in order, and stops at the first rejection.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import events
from .errors import UserCodeError, wrap_user_error
from .guard import call_user
from .registry import lookup
from .schemas import RiskSchema
from .signals import SignalRow

if TYPE_CHECKING:
    from .pair_machine import PairMachine

DEFAULT_NOTE = "Validation rejected the signal"
TRUE_NOTE = "validation returned True; return None to allow"


@dataclass(frozen=True, slots=True)
class ActivePosition:
    """A position counted by a risk profile."""

    strategy_name: str
    symbol: str
    exchange_name: str
    signal: SignalRow
    open_timestamp: int

    @property
    def key(self) -> str:
        return f"{self.strategy_name}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class RiskValidationPayload:
    """What a validation sees (SPEC §10.2); ``active_positions`` never includes the checking pair."""

    symbol: str
    pending_signal: SignalRow
    strategy_name: str
    exchange_name: str
    risk_name: str
    current_price: float
    timestamp: int
    backtest: bool
    active_position_count: int
    active_positions: tuple[ActivePosition, ...]


@dataclass(frozen=True, slots=True)
class RiskContract:
    """A rejection, on ``listen_risk`` (SPEC §10.3)."""

    symbol: str
    pending_signal: SignalRow
    strategy_name: str
    exchange_name: str
    risk_name: str
    current_price: float
    active_position_count: int
    rejection_id: str | None
    rejection_note: str
    timestamp: int
    backtest: bool


class RiskBook:
    """Active positions per risk name. ``on_change(risk_name, positions)`` lets live persist each change."""

    def __init__(self, on_change: Callable[[str, list[ActivePosition]], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._positions: dict[str, dict[str, ActivePosition]] = {}
        self.on_change = on_change

    def positions(self, risk_name: str, *, excluding: str | None = None) -> tuple[ActivePosition, ...]:
        with self._lock:
            items = [p for key, p in self._positions.get(risk_name, {}).items() if key != excluding]
        return tuple(sorted(items, key=lambda p: (p.open_timestamp, p.key)))

    def load(self, risk_name: str, positions: list[ActivePosition]) -> None:
        """Replace a profile's positions (live restore)."""
        with self._lock:
            self._positions[risk_name] = {p.key: p for p in positions}

    def add(self, risk_name: str, position: ActivePosition) -> None:
        with self._lock:
            self._positions.setdefault(risk_name, {})[position.key] = position
        self._changed(risk_name)

    def remove(self, risk_name: str, key: str) -> None:
        with self._lock:
            removed = self._positions.get(risk_name, {}).pop(key, None)
        if removed is not None:
            self._changed(risk_name)

    def _changed(self, risk_name: str) -> None:
        if self.on_change is not None:
            self.on_change(risk_name, list(self.positions(risk_name)))


def _verdict(result: Any, payload: RiskValidationPayload) -> tuple[str | None, str] | None:
    """``None`` to allow, else ``(rejection_id, note)`` (SPEC §10.3)."""
    if not result:
        return None
    if result is True:
        err = UserCodeError(f"risk validation of '{payload.risk_name}' returned True; return None to allow",
                            symbol=payload.symbol, strategy_name=payload.strategy_name, where="risk_validation")
        events.validation.emit(err)
        return None, TRUE_NOTE
    if isinstance(result, str):
        return None, result
    if isinstance(result, Mapping):
        return result.get("id"), result.get("note") or DEFAULT_NOTE
    return getattr(result, "id", None), getattr(result, "note", None) or DEFAULT_NOTE


class RiskGate:
    """The risk checks of one pair, against a shared book (implements ``pair_machine.RiskCheck``)."""

    def __init__(self, book: RiskBook, risk_names: tuple[str, ...]) -> None:
        self.book = book
        self.profiles: tuple[RiskSchema, ...] = tuple(lookup("risk", name) for name in risk_names)

    def allows(self, pair: PairMachine, row: SignalRow, current_price: float, timestamp: int) -> bool:
        key = f"{pair.strategy_name}:{pair.symbol}"
        for profile in self.profiles:
            active = self.book.positions(profile.risk_name, excluding=key)
            payload = RiskValidationPayload(pair.symbol, row, pair.strategy_name, pair.exchange_name,
                                            profile.risk_name, current_price, timestamp, pair.backtest,
                                            len(active), active)
            verdict = self._check(profile, payload)
            if verdict is not None:
                rejection_id, note = verdict
                contract = RiskContract(pair.symbol, row, pair.strategy_name, pair.exchange_name, profile.risk_name,
                                        current_price, len(active), rejection_id, note, timestamp, pair.backtest)
                pair.record_risk(contract)
                events.risk.emit(contract)
                self._callback(profile, "on_rejected", pair, payload)
                return False
            self._callback(profile, "on_allowed", pair, payload)
        return True

    @staticmethod
    def _check(profile: RiskSchema, payload: RiskValidationPayload) -> tuple[str | None, str] | None:
        for validation in profile.validations:
            try:
                result = validation.validate(payload)
            except Exception as exc:
                events.validation.emit(wrap_user_error(exc, where="risk_validation", symbol=payload.symbol,
                                                       strategy_name=payload.strategy_name))
                return None, str(exc) or type(exc).__name__
            verdict = _verdict(result, payload)
            if verdict is not None:
                return verdict
        return None

    @staticmethod
    def _callback(profile: RiskSchema, name: str, pair: PairMachine, payload: RiskValidationPayload) -> None:
        fn = profile.callbacks.get(name)
        if fn is not None:
            call_user(fn, pair.symbol, payload, where=name, symbol=pair.symbol, strategy_name=pair.strategy_name)

    def add(self, pair: PairMachine, row: SignalRow, timestamp: int) -> None:
        position = ActivePosition(pair.strategy_name, pair.symbol, pair.exchange_name, row, timestamp)
        for profile in self.profiles:
            self.book.add(profile.risk_name, position)

    def remove(self, pair: PairMachine, row: SignalRow) -> None:
        for profile in self.profiles:
            self.book.remove(profile.risk_name, f"{pair.strategy_name}:{pair.symbol}")
