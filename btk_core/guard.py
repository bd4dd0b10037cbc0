"""Calling user code without letting it break a run (SPEC §4.6)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import wrap_user_error
from .events import emit_error


def call_user(fn: Callable[..., Any], *args: Any, where: str, symbol: str | None = None,
              strategy_name: str | None = None) -> Any:
    """Call ``fn(*args)``; an exception becomes a ``UserCodeError`` on ``listen_error`` and ``None`` is returned."""
    try:
        return fn(*args)
    except Exception as exc:
        emit_error(wrap_user_error(exc, where=where, symbol=symbol, strategy_name=strategy_name))
        return None
