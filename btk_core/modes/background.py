"""Consuming a run's generator on a daemon thread (``background()`` of every mode)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from .. import events

log = logging.getLogger("btk")


def consume_in_background(run: Iterator[Any], name: str) -> threading.Thread:
    """Drain ``run`` on a daemon thread; an unexpected exception is logged and emitted on ``listen_exit``."""
    def consume() -> None:
        try:
            for _ in run:
                pass
        except Exception as exc:
            log.exception("background run %s failed", name)
            events.exit_.emit(exc)

    thread = threading.Thread(target=consume, daemon=True, name=f"btk-{name}")
    thread.start()
    return thread
