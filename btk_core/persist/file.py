"""The default adapter: one JSON file per entity id, written atomically (SPEC §9.3, §9.5)."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import clock
from ..atomic import atomic_write
from ..errors import PersistCorruptError
from ..events import emit_error
from ..fmt import safe_name
from .codec import encode

STALE_TEMP_SECONDS = 60


class FilePersist:
    """``<base_dir>/<safe(entity_name)>/<safe(entity_id)>.json``. An unreadable file is moved aside
    (``.corrupt-<ms>``), reported, and reads as missing; nothing is ever deleted by a read."""

    def __init__(self, entity_name: str, base_dir: str) -> None:
        self.directory = Path(base_dir) / safe_name(entity_name)

    def wait_for_init(self, initial: bool) -> None:
        """Create the folder, and drop temp files a killed writer left (never read; older than a minute,
        so never one a live writer is using)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if initial:
            stale = time.time() - STALE_TEMP_SECONDS
            for temp in self.directory.glob(".tmp-*"):
                try:
                    if temp.stat().st_mtime < stale:
                        temp.unlink()
                except FileNotFoundError:
                    pass

    def path(self, entity_id: str) -> Path:
        return self.directory / f"{safe_name(entity_id)}.json"

    def read_value(self, entity_id: str) -> Any:
        """The stored value, or ``None`` when there is none (or it was corrupt and moved aside)."""
        path = self.path(entity_id)
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            self.move_aside(entity_id, "corrupt", f"not valid JSON ({exc})")
            return None
        except OSError as exc:  # a directory, a permission, an I/O error where the file should be
            self.move_aside(entity_id, "corrupt", f"unreadable ({type(exc).__name__}: {exc})")
            return None

    def move_aside(self, entity_id: str, kind: str, why: str) -> str:
        """Rename the entity's file to ``<file>.<kind>-<now ms>`` and report it (``kind``: corrupt/foreign)."""
        path = self.path(entity_id)
        aside = path.with_name(f"{path.name}.{kind}-{clock.now()}")
        try:
            os.replace(path, aside)
        except OSError as exc:
            emit_error(PersistCorruptError(f"state file {path} is {kind} ({why}) and could not be moved aside: "
                                           f"{type(exc).__name__}: {exc}", store=str(self.directory),
                                           path=str(path), cause=why))
            return str(path)
        emit_error(PersistCorruptError(f"state file {path} is {kind} ({why}); moved to {aside}",
                                       store=str(self.directory), path=str(path), cause=why))
        return str(aside)

    def has_value(self, entity_id: str) -> bool:
        return self.path(entity_id).is_file()

    def write_value(self, entity_id: str, value: Any) -> None:
        atomic_write(self.path(entity_id), encode(value))

    def remove_value(self, entity_id: str) -> None:
        self.path(entity_id).unlink(missing_ok=True)

    def remove_all(self) -> None:
        for path in self.directory.glob("*.json"):
            path.unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        return (p.stem for p in sorted(self.directory.glob("*.json")))

    def values(self) -> Iterator[Any]:
        return (self.read_value(key) for key in list(self.keys()))
