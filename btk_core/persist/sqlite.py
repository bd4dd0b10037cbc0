"""SQLite adapter (stdlib): one table per store, WAL journal, one transaction per write."""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import clock
from ..errors import PersistCorruptError
from ..events import emit_error
from .codec import encode


class SqlitePersist:
    """Rows ``(entity_name, entity_id, value)`` in ``<base_dir>.sqlite``; a committed write is whole or absent."""

    def __init__(self, entity_name: str, base_dir: str) -> None:
        self.entity_name = entity_name
        self.file = Path(f"{base_dir.rstrip('/')}.sqlite")
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def wait_for_init(self, initial: bool) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._db is None:
                self._db = sqlite3.connect(self.file, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("CREATE TABLE IF NOT EXISTS state (entity_name TEXT NOT NULL, entity_id TEXT NOT NULL,"
                                 " value TEXT NOT NULL, PRIMARY KEY (entity_name, entity_id))")

    def _run(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        assert self._db is not None, "wait_for_init() first"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(sql, args).fetchall()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return rows

    def read_value(self, entity_id: str) -> Any:
        """The stored value, or ``None`` when there is none (or it was not JSON and was moved aside)."""
        rows = self._run("SELECT value FROM state WHERE entity_name = ? AND entity_id = ?", self.entity_name, entity_id)
        if not rows:
            return None
        try:
            return json.loads(rows[0][0])
        except ValueError as exc:
            self.move_aside(entity_id, "corrupt", f"not valid JSON ({exc})")
            return None

    def move_aside(self, entity_id: str, kind: str, why: str) -> str:
        """Rename the row's id to ``<id>.<kind>-<now ms>`` in one transaction and report it (SPEC §9.5)."""
        aside = f"{entity_id}.{kind}-{clock.now()}"
        self._run("UPDATE state SET entity_id = ? WHERE entity_name = ? AND entity_id = ?",
                  aside, self.entity_name, entity_id)
        where = f"{self.file}:{self.entity_name}/"
        emit_error(PersistCorruptError(f"state row {where}{entity_id} is {kind} ({why}); moved to {where}{aside}",
                                       store=str(self.file), path=f"{where}{entity_id}", cause=why))
        return aside

    def has_value(self, entity_id: str) -> bool:
        return bool(self._run("SELECT 1 FROM state WHERE entity_name = ? AND entity_id = ?",
                              self.entity_name, entity_id))

    def write_value(self, entity_id: str, value: Any) -> None:
        self._run("INSERT INTO state (entity_name, entity_id, value) VALUES (?, ?, ?) "
                  "ON CONFLICT (entity_name, entity_id) DO UPDATE SET value = excluded.value",
                  self.entity_name, entity_id, encode(value).decode("utf-8"))

    def remove_value(self, entity_id: str) -> None:
        self._run("DELETE FROM state WHERE entity_name = ? AND entity_id = ?", self.entity_name, entity_id)

    def remove_all(self) -> None:
        self._run("DELETE FROM state WHERE entity_name = ?", self.entity_name)

    def keys(self) -> Iterator[str]:
        rows = self._run("SELECT entity_id FROM state WHERE entity_name = ? ORDER BY entity_id", self.entity_name)
        return (r[0] for r in rows)

    def values(self) -> Iterator[Any]:
        rows = self._run("SELECT value FROM state WHERE entity_name = ? ORDER BY entity_id", self.entity_name)
        return (json.loads(r[0]) for r in rows)


def sqlite_factory(entity_name: str, base_dir: str) -> SqlitePersist:
    """For ``use_persist_adapter(store, sqlite_factory)``."""
    return SqlitePersist(entity_name, base_dir)
