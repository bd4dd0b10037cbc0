"""Live state on disk (SPEC §9.2–§9.5): what a pair writes before a tick returns, and how it comes back.

``PairPersistence`` implements the state machine's ``Persistence`` hook for one pair; every write
stores the full current value, so a failed write (reported as ``PersistError``, in-memory state
unchanged) is repaired by the next one. ``LiveRiskBooks`` keeps one risk book per process for live
pairs and writes each profile's positions on every change.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Callable

from ..errors import PersistError
from ..events import emit_error
from ..fmt import safe_name
from ..risk import ActivePosition, RiskBook
from ..signals import SignalRow, row_from_json
from . import PersistBase, open_store

log = logging.getLogger("btk")


def _guarded_write(store: str, adapter: PersistBase, entity_id: str, value: Any) -> None:
    try:
        adapter.write_value(entity_id, value)
    except Exception as exc:
        path = str(getattr(adapter, "path", lambda _: entity_id)(entity_id))
        err = PersistError(f"writing the {store} store failed at {path}: {type(exc).__name__}: {exc}",
                           store=store, path=path, cause=exc)
        err.__cause__ = exc
        emit_error(err)


class PairPersistence:
    """The signal, schedule and partial stores of one live pair."""

    def __init__(self, symbol: str, strategy_name: str, base_dir: str) -> None:
        self.symbol = symbol
        folder = f"{safe_name(symbol)}_{safe_name(strategy_name)}"
        self.signal = open_store("signal", folder, base_dir)
        self.schedule = open_store("schedule", folder, base_dir)
        self.partial = open_store("partial", folder, base_dir)

    def write_pending(self, row: SignalRow | None) -> None:
        _guarded_write("signal", self.signal, self.symbol, asdict(row) if row else None)

    def write_scheduled(self, row: SignalRow | None) -> None:
        _guarded_write("schedule", self.schedule, self.symbol, asdict(row) if row else None)

    def write_partial(self, signal_id: str | None, profit: set[float], loss: set[float]) -> None:
        value = {} if signal_id is None else {signal_id: {"profit_levels": sorted(profit),
                                                          "loss_levels": sorted(loss)}}
        _guarded_write("partial", self.partial, "levels", value)

    # ---- restore (SPEC §9.4, §9.5) ------------------------------------------------------
    def _adopt(self, store: str, adapter: PersistBase, cfg: Any, owner: tuple[str, str, str]) -> SignalRow | None:
        data = adapter.read_value(self.symbol)
        if data is None:
            return None
        try:
            row = row_from_json(data, cfg)
        except ValueError as exc:
            self._move_aside(adapter, "corrupt", f"not a valid signal row: {exc}")
            return None
        if (row.symbol, row.strategy_name, row.exchange_name) != owner:
            self._move_aside(adapter, "foreign", f"belongs to {row.symbol}/{row.strategy_name}/{row.exchange_name}")
            return None
        return row

    def _move_aside(self, adapter: PersistBase, kind: str, why: str) -> None:
        move = getattr(adapter, "move_aside", None)
        if move is not None:
            move(self.symbol, kind, why)
        else:  # an adapter without move_aside: keep the value under another key
            value = adapter.read_value(self.symbol)
            adapter.write_value(f"{self.symbol}.{kind}", value)
            adapter.remove_value(self.symbol)
            emit_error(PersistError(f"{self.symbol} was {kind} ({why}); kept as {self.symbol}.{kind}"))

    def restore(self, cfg: Any, owner: tuple[str, str, str]) -> tuple[SignalRow | None, SignalRow | None,
                                                                         tuple[set[float], set[float]]]:
        """``(pending, scheduled, fired levels of the pending row)``; the stores are read independently."""
        pending = self._adopt("signal", self.signal, cfg, owner)
        scheduled = self._adopt("schedule", self.schedule, cfg, owner)
        if pending is not None and scheduled is not None:
            if pending.id == scheduled.id:  # a crash during activation: the position wins
                self.write_scheduled(None)
            else:
                self._move_aside(self.schedule, "foreign", f"pending row {pending.id} held at the same time")
            scheduled = None
        fired: tuple[set[float], set[float]] = (set(), set())
        if pending is not None:
            levels = self.partial.read_value("levels")
            entry = levels.get(pending.id) if isinstance(levels, dict) else None
            if isinstance(entry, dict):
                fired = ({float(x) for x in entry.get("profit_levels", [])},
                         {float(x) for x in entry.get("loss_levels", [])})
        return pending, scheduled, fired


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
            rows = self._store(name).read_value("positions") or []
            positions = []
            for item in rows if isinstance(rows, list) else []:
                try:
                    signal = row_from_json(item["signal"], cfg)
                    positions.append(ActivePosition(item["strategy_name"], item["symbol"], item["exchange_name"],
                                                    signal, int(item["open_timestamp"])))
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("dropping an unreadable position of risk profile %s: %s", name, exc)
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
