"""Pluggable persistence of live state (SPEC §9.2, §9.7).

Four stores — ``signal`` (pending row), ``schedule`` (waiting row), ``risk`` (positions per
risk profile) and ``partial`` (fired milestone levels) — each written through a
:class:`PersistBase` adapter. Every adapter gives the same guarantee as the file adapter:
after a crash a value is either the old or the new one, never torn.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Iterator, Protocol

STORES = ("signal", "schedule", "risk", "partial")


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


def encode(value: Any) -> bytes:
    """The one JSON form of stored values (sorted keys, compact, no NaN)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _file_factory(entity_name: str, base_dir: str) -> PersistBase:
    from .file import FilePersist
    return FilePersist(entity_name, base_dir)


_lock = threading.Lock()
_factories: dict[str, Factory] = {store: _file_factory for store in STORES}


def use_persist_adapter(store: str, factory: Factory | None) -> None:
    """Use ``factory(entity_name, base_dir)`` for ``store``; ``None`` restores the file adapter."""
    if store not in STORES:
        raise ValueError(f"store must be one of {list(STORES)}, got {store!r}")
    if factory is not None and not callable(factory):
        raise TypeError(f"factory must be callable or None, got {factory!r}")
    with _lock:
        _factories[store] = factory or _file_factory


def open_store(store: str, entity_name: str, base_dir: str) -> PersistBase:
    """An initialised adapter for ``<base_dir>/<store>/<entity_name>``."""
    with _lock:
        factory = _factories[store]
    adapter = factory(entity_name, f"{base_dir.rstrip('/')}/{store}")
    adapter.wait_for_init(True)
    return adapter
