"""Live state on disk (SPEC §9.2–§9.5, §20.1, §20.2): what a pair writes, and how it comes back.

``PairPersistence`` implements the state machine's ``Persistence`` hook for one pair. A change is first
committed to the pair's journal — the whole new state, the throttle clock and the change's notifications,
in one atomic write — then applied to the signal, schedule and partial stores of §9.2; once the tick's
notifications have been delivered and its results yielded, the journal is written again without them. At
restore a journal still holding notifications means the change was committed but perhaps not applied nor
delivered: it is rolled forward and its notifications are delivered again (at least once, same
``delivery_id``). Every write
stores the full current value, so a failed write (reported as ``PersistError``, in-memory state
unchanged) is repaired by the next one. ``LiveRiskBooks`` keeps one risk book per process for live pairs
and writes each profile's positions on every change.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import PersistError
from ..events import emit_error
from ..fmt import safe_name
from ..notices import Notice, notice_from_json
from ..pair_machine import PairState
from ..risk import ActivePosition, RiskBook
from ..signals import SignalRow, row_from_json
from . import PersistBase, move_aside, open_store

log = logging.getLogger("btk")
Levels = tuple[frozenset[float], frozenset[float]]  # fired profit levels, fired loss levels
_UNSET = object()


def _guarded_write(store: str, adapter: PersistBase, entity_id: str, value: Any) -> bool:
    """Write, or emit ``PersistError`` (store, path, cause) and return False."""
    try:
        adapter.write_value(entity_id, value)
        return True
    except Exception as exc:
        path = str(getattr(adapter, "path", lambda _: entity_id)(entity_id))
        err = PersistError(f"writing the {store} store failed at {path}: {type(exc).__name__}: {exc}",
                           store=store, path=path, cause=exc)
        err.__cause__ = exc
        emit_error(err)
        return False


def _row_json(row: SignalRow | None) -> dict[str, Any] | None:
    return asdict(row) if row is not None else None


def _levels_json(state: PairState) -> dict[str, Any]:
    if state.pending is None:
        return {}
    return {state.pending.id: {"profit_levels": sorted(state.fired_profit), "loss_levels": sorted(state.fired_loss)}}


def _levels(entry: Any) -> tuple[frozenset[float], frozenset[float]]:
    """The fired levels of one partial entry; ``ValueError`` when it is not of the §9.2 shape."""
    if not isinstance(entry, dict) or set(entry) - {"profit_levels", "loss_levels"}:
        raise ValueError(f"a partial entry must be an object with profit_levels and loss_levels, got {entry!r:.80}")
    out = []
    for name in ("profit_levels", "loss_levels"):
        values = entry.get(name, [])
        if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise ValueError(f"{name} must be a list of numbers, got {values!r:.80}")
        out.append(frozenset(float(v) for v in values))
    return out[0], out[1]


@dataclass(frozen=True)
class Restored:
    """What restore found: the state to adopt and the notifications still to deliver, in order."""

    state: PairState
    undelivered: tuple[Notice, ...]


class PairPersistence:
    """The signal, schedule, partial and journal stores of one live pair."""

    def __init__(self, symbol: str, strategy_name: str, exchange_name: str, base_dir: str) -> None:
        self.symbol = symbol
        self.owner = (symbol, strategy_name, exchange_name)
        folder = f"{safe_name(symbol)}_{safe_name(strategy_name)}"
        self.signal = open_store("signal", folder, base_dir)
        self.schedule = open_store("schedule", folder, base_dir)
        self.partial = open_store("partial", folder, base_dir)
        self.journal = open_store("journal", folder, base_dir)
        # the value each store is known to hold, so a change writes only the stores it touches
        self._applied: dict[str, Any] = {"signal": _UNSET, "schedule": _UNSET, "partial": _UNSET}
        self._undelivered: list[Notice] = []  # committed notifications of the tick in progress
        self._journal_last_call: Any = _UNSET

    # ---- writing (the state machine's Persistence hook) ----------------------------------
    def commit(self, state: PairState, notices: tuple[Notice, ...]) -> None:
        """The change with every notification of the tick so far in one atomic journal write, then the
        §9.2 stores."""
        self._undelivered.extend(notices)
        self._write_journal(state)
        self._apply(state)

    def settle(self, state: PairState) -> None:
        """The tick's notifications were delivered and its results yielded: the journal without them, with
        the throttle clock (written only when one of them changed)."""
        if self._undelivered or state.last_call != self._journal_last_call:
            self._undelivered = []
            self._write_journal(state)
        self._apply(state)

    def _write_journal(self, state: PairState) -> None:
        symbol, strategy_name, exchange_name = self.owner
        if _guarded_write("journal", self.journal, self.symbol, {
                "symbol": symbol, "strategy_name": strategy_name, "exchange_name": exchange_name,
                "last_call": state.last_call, "pending": _row_json(state.pending),
                "scheduled": _row_json(state.scheduled), "partial": _levels_json(state),
                "undelivered": [n.to_json() for n in self._undelivered]}):
            self._journal_last_call = state.last_call

    def _apply(self, state: PairState) -> None:
        """Write the stores whose value differs from what they hold: pending first, then the schedule (an
        activation), then the partial levels (SPEC §9.2, §5.4 1b)."""
        targets = (("signal", self.signal, self.symbol, _row_json(state.pending)),
                   ("schedule", self.schedule, self.symbol, _row_json(state.scheduled)),
                   ("partial", self.partial, "levels", _levels_json(state)))
        for store, adapter, entity_id, value in targets:
            if self._applied[store] != value:  # a failed write leaves the store unknown: written again next time
                self._applied[store] = value if _guarded_write(store, adapter, entity_id, value) else _UNSET

    # ---- restore (SPEC §9.4, §9.5, §20.1, §20.2) -----------------------------------------
    def restore(self, cfg: Any) -> Restored:
        """Read every store (unusable values are moved aside and count as empty), roll a committed but
        undelivered change forward, and say what to adopt."""
        journal = self._read_journal(cfg)
        pending = self._adopt(self.signal, cfg)
        scheduled = self._adopt(self.schedule, cfg)
        if pending is not None and scheduled is not None:
            if pending.id != scheduled.id:  # same id: a crash during activation, the position wins
                move_aside(self.schedule, self.symbol, "foreign", f"pending row {pending.id} held at the same time")
                self._applied["schedule"] = None
            scheduled = None
        fired = self._fired(pending)
        last_call = journal["last_call"] if journal else None
        self._journal_last_call = last_call if journal else _UNSET
        undelivered: tuple[Notice, ...] = ()
        if journal and journal["undelivered"]:  # committed, maybe not applied: the journal's state wins
            pending, scheduled = journal["pending"], journal["scheduled"]
            fired = self._journal_levels(journal, pending)
            undelivered = journal["undelivered"]
        state = PairState(pending, scheduled, fired[0], fired[1], last_call)
        self._undelivered = list(undelivered)  # cleared by the first tick's settle, once delivered again
        self._apply(state)
        return Restored(state, undelivered)

    def _adopt(self, adapter: PersistBase, cfg: Any) -> SignalRow | None:
        store = "signal" if adapter is self.signal else "schedule"
        data = adapter.read_value(self.symbol)
        self._applied[store] = data
        if data is None:
            return None
        try:
            row = row_from_json(data, cfg)
        except ValueError as exc:
            move_aside(adapter, self.symbol, "corrupt", f"not a valid signal row: {exc}")
            self._applied[store] = None
            return None
        if (row.symbol, row.strategy_name, row.exchange_name) != self.owner:
            owner = f"{row.symbol}/{row.strategy_name}/{row.exchange_name}"
            move_aside(adapter, self.symbol, "foreign", f"belongs to {owner}")
            self._applied[store] = None
            return None
        return row

    def _fired(self, pending: SignalRow | None) -> tuple[frozenset[float], frozenset[float]]:
        """The levels the adopted position already fired; a file of another shape is moved aside."""
        data = self.partial.read_value("levels")
        self._applied["partial"] = {} if data is None else data  # no file yet: nothing to write until a change
        empty: tuple[frozenset[float], frozenset[float]] = (frozenset(), frozenset())
        if data is None:
            return empty
        try:
            if not isinstance(data, dict):
                raise ValueError(f"levels must be a JSON object keyed by signal id, got {type(data).__name__}")
            parsed = {key: _levels(entry) for key, entry in data.items()}
        except ValueError as exc:
            move_aside(self.partial, "levels", "corrupt", str(exc))
            self._applied["partial"] = None
            return empty
        return parsed.get(pending.id, empty) if pending is not None else empty

    def _read_journal(self, cfg: Any) -> dict[str, Any] | None:
        """The journal checked whole; one that is not of its shape or of another pair is moved aside."""
        data = self.journal.read_value(self.symbol)
        if data is None:
            return None
        try:
            if not isinstance(data, dict):
                raise ValueError(f"a journal must be a JSON object, got {type(data).__name__}")
            owner = (data.get("symbol"), data.get("strategy_name"), data.get("exchange_name"))
            if owner != self.owner:
                move_aside(self.journal, self.symbol, "foreign", "belongs to {}/{}/{}".format(*owner))
                return None
            last_call = data.get("last_call")
            if last_call is not None and type(last_call) is not int:
                raise ValueError(f"last_call must be an int or null, got {last_call!r}")
            undelivered = data.get("undelivered")
            if not isinstance(undelivered, list):
                raise ValueError("undelivered must be a list")
            partial = data.get("partial")
            if not isinstance(partial, dict):
                raise ValueError("partial must be an object")
            return {"last_call": last_call,
                    "pending": None if data.get("pending") is None else row_from_json(data["pending"], cfg),
                    "scheduled": None if data.get("scheduled") is None else row_from_json(data["scheduled"], cfg),
                    "partial": {key: _levels(entry) for key, entry in partial.items()},
                    "undelivered": tuple(notice_from_json(n, cfg) for n in undelivered)}
        except ValueError as exc:
            move_aside(self.journal, self.symbol, "corrupt", str(exc))
            return None

    @staticmethod
    def _journal_levels(journal: dict[str, Any], pending: SignalRow | None) -> Levels:
        empty: Levels = (frozenset(), frozenset())
        return journal["partial"].get(pending.id, empty) if pending is not None else empty


def _position_json(p: ActivePosition) -> dict[str, Any]:
    return {"key": p.key, "strategy_name": p.strategy_name, "symbol": p.symbol, "exchange_name": p.exchange_name,
            "open_timestamp": p.open_timestamp, "signal": asdict(p.signal)}


class LiveRiskBooks:
    """One risk book shared by every live pair of the process, persisted per profile."""

    def __init__(self) -> None:
        self.book = RiskBook(on_change=self._write)
        self._stores: dict[str, PersistBase] = {}
        self._base_dir: str | None = None
        self._loaded: set[str] = set()

    def _store(self, risk_name: str) -> PersistBase:
        if risk_name not in self._stores:
            assert self._base_dir is not None
            self._stores[risk_name] = open_store("risk", risk_name, self._base_dir)
        return self._stores[risk_name]

    def _write(self, risk_name: str, positions: list[ActivePosition]) -> None:
        rows = sorted((_position_json(p) for p in positions), key=lambda r: r["key"])
        _guarded_write("risk", self._store(risk_name), "positions", rows)

    def prepare(self, risk_names: tuple[str, ...], base_dir: str, cfg: Any) -> None:
        """Load each profile's positions the first time the process uses it (SPEC §9.4 step 4)."""
        if self._base_dir != base_dir:
            self._base_dir, self._stores, self._loaded = base_dir, {}, set()
        for name in risk_names:
            if name in self._loaded:
                continue
            self._loaded.add(name)
            store = self._store(name)
            rows = store.read_value("positions")
            try:
                positions = _positions(rows, cfg) if rows is not None else []
            except ValueError as exc:  # SPEC §9.5: moved aside, reported, the profile starts empty
                move_aside(store, "positions", "corrupt", f"risk profile {name}: {exc}")
                positions = []
            self.book.load(name, positions)

    def reconcile(self, risk_names: tuple[str, ...], key_owner: Callable[[], ActivePosition | None],
                  key: str) -> None:
        """The pair's own key matches its restored position: added if it holds one, removed if not."""
        position = key_owner()
        for name in risk_names:
            if position is not None:
                self.book.add(name, position)
            else:
                self.book.remove(name, key)


def _positions(rows: Any, cfg: Any) -> list[ActivePosition]:
    """A risk profile's stored positions; ``ValueError`` names the first one that is not of the §9.2 shape."""
    if not isinstance(rows, list):
        raise ValueError(f"positions must be a JSON list, got {type(rows).__name__}")
    positions = []
    for k, item in enumerate(rows):
        try:
            if type(item["open_timestamp"]) is not int:
                raise TypeError("open_timestamp must be an int")
            names = (item["strategy_name"], item["symbol"], item["exchange_name"])
            if not all(isinstance(n, str) and n for n in names):
                raise TypeError("strategy_name, symbol and exchange_name must be non-empty strings")
            positions.append(ActivePosition(*names, row_from_json(item["signal"], cfg), item["open_timestamp"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"position {k}: {type(exc).__name__}: {exc}") from None
    return positions
