"""One live run per pair (SPEC §20.1.4): an OS file lock that dies with the process holding it.

``fcntl.flock`` on ``<CC_PERSIST_BASE_DIR>/lock/<symbol>_<strategy>.lock`` is released by the kernel
when its holder exits for any reason, ``kill -9`` included, so a dead run never blocks a restart (a lease
in an orchestrator's database would outlive it). The file holds who has it, for the error a second run
gets. The lock guards processes that share the folder; runs on several machines need a shared folder.
"""
from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from ..errors import AlreadyRunningError
from ..fmt import safe_name

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one run per pair is then up to the user
    fcntl = None  # type: ignore[assignment]


class PairLock:
    """Held from ``acquire`` until ``release`` (or the death of the process)."""

    def __init__(self, base_dir: str, symbol: str, strategy_name: str) -> None:
        self.path = Path(base_dir) / "lock" / f"{safe_name(symbol)}_{safe_name(strategy_name)}.lock"
        self.pair = f"{symbol}/{strategy_name}"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``AlreadyRunningError`` naming the holder (pid, host, since when)."""
        if fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while the lock is held
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
            handle.close()
            raise AlreadyRunningError(
                f"live {self.pair} is already running ({holder}); lock file {self.path}") from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.now(UTC).isoformat(timespec="seconds")}))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None


def _describe(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
