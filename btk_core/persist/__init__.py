"""Pluggable persistence of live state (SPEC §9.2, §9.7, §20.2).

Four stores — ``signal`` (pending row), ``schedule`` (waiting row), ``risk`` (positions per
risk profile) and ``partial`` (fired milestone levels) — each written through a
:class:`PersistBase` adapter, plus the pair ``journal``: the pair's whole state, its throttle clock and
the notifications of a change not yet delivered, written in one atomic write before the other stores
(it uses the ``signal`` store's adapter unless one is set for it), and the ``ledger`` of a live run's broker
(the order desk's book per pair, a paper account's balances and orders). Every adapter gives the same
guarantee as the file adapter: after a crash a value is either the old or the new one, never torn.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .codec import encode

STORES = ("signal", "schedule", "risk", "partial", "journal", "ledger")


class PersistBase(Protocol):
    """What the live engine needs from a store of JSON values keyed by entity id."""

    def wait_for_init(self, initial: bool) -> None: ...
    def read_value(self, entity_id: str) -> Any: ...
    def has_value(self, entity_id: str) -> bool: ...
    def write_value(self, entity_id: str, value: Any) -> None: ...
    def remove_value(self, entity_id: str) -> None: ...
    def remove_all(self) -> None: ...
    def values(self) -> Iterator[Any]: ...
    def keys(self) -> Iterator[str]: ...


Factory = Callable[[str, str], PersistBase]
__all__ = ["PersistBase", "Factory", "STORES", "encode", "move_aside", "open_store", "reset_persist_adapters",
           "use_persist_adapter"]


def _file_factory(entity_name: str, base_dir: str) -> PersistBase:
    from .file import FilePersist
    return FilePersist(entity_name, base_dir)


_lock = threading.Lock()
_factories: dict[str, Factory] = {store: _file_factory for store in STORES if store != "journal"}


def use_persist_adapter(store: str, factory: Factory | None) -> None:
    """Use ``factory(entity_name, base_dir)`` for ``store``; ``None`` restores the file adapter."""
    if store not in STORES:
        raise ValueError(f"store must be one of {list(STORES)}, got {store!r}")
    if factory is not None and not callable(factory):
        raise TypeError(f"factory must be callable or None, got {factory!r}")
    with _lock:
        if store == "journal" and factory is None:
            _factories.pop(store, None)  # back to following the signal store
        else:
            _factories[store] = factory or _file_factory


def reset_persist_adapters() -> None:
    """Every store back on the file adapter (tests; a fresh process starts like this)."""
    with _lock:
        _factories.clear()
        _factories.update({store: _file_factory for store in STORES if store != "journal"})


def open_store(store: str, entity_name: str, base_dir: str) -> PersistBase:
    """An initialised adapter for ``<base_dir>/<store>/<entity_name>``."""
    with _lock:
        factory = _factories.get(store) or _factories["signal"]
    adapter = factory(entity_name, f"{base_dir.rstrip('/')}/{store}")
    adapter.wait_for_init(True)
    return adapter


def move_aside(adapter: PersistBase, entity_id: str, kind: str, why: str) -> None:
    """Keep an unusable value under another id (``<id>.<kind>-<now ms>``) and report it with
    ``PersistCorruptError`` (SPEC §9.5): never deleted. The built-in adapters move it in one step; any
    other adapter gets a copy under the new id, then the old id removed."""
    own = getattr(adapter, "move_aside", None)
    if own is not None:
        own(entity_id, kind, why)
        return
    from .. import clock
    from ..errors import PersistCorruptError
    from ..events import emit_error
    aside = f"{entity_id}.{kind}-{clock.now()}"
    adapter.write_value(aside, adapter.read_value(entity_id))
    adapter.remove_value(entity_id)
    emit_error(PersistCorruptError(f"state value {entity_id} is {kind} ({why}); moved to {aside}",
                                   store=type(adapter).__name__, path=entity_id, cause=why))
