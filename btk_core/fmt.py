"""Formatting helpers shared by messages and reports (SPEC §0.5).

``None`` prints ``N/A`` everywhere, so every helper accepts it.
"""
from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

NA = "N/A"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAFE = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9._-]")


def num(x: object) -> str:
    """Shortest faithful text of a number: integral floats lose their ``.0``."""
    if x is None:
        return NA
    if isinstance(x, float):
        if math.isfinite(x) and x == int(x) and abs(x) < 1e16:
            return str(int(x))
        return repr(x)
    return str(x)


def pct(x: float | None) -> str:
    """Signed percentage with two decimals: ``+1.23%`` / ``-0.50%`` / ``0.00%``."""
    if x is None:
        return NA
    return f"+{x:.2f}%" if x > 0 else f"{x:.2f}%"


def price(x: float | None) -> str:
    """A price in the reports' currency notation."""
    if x is None:
        return NA
    return f"{x:.8f} USD"


def iso(ms: int | None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` from integer milliseconds, exact to the millisecond."""
    if ms is None:
        return NA
    dt = _EPOCH + timedelta(milliseconds=int(ms))
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def minutes(a: int | None, b: int | None) -> int | str:
    """Whole minutes from ``a`` to ``b`` (floor)."""
    if a is None or b is None:
        return NA
    return (b - a) // 60000


def safe_name(s: str) -> str:
    """A file-name-safe form of ``s``; unsafe names get a hash suffix so they stay distinct."""
    if _SAFE.fullmatch(s) and s not in (".", ".."):
        return s
    cleaned = _UNSAFE_CHAR.sub("_", s).strip(".") or "_"
    return f"{cleaned}-{hashlib.sha256(s.encode()).hexdigest()[:8]}"


def to_datetime(ms: int) -> datetime:
    """Aware UTC datetime of integer milliseconds (what user code receives as ``when``).

    ``fromtimestamp`` rounds to the microsecond, and ``ms / 1000`` is within half a
    microsecond of the true value for any date this century, so the result is exact
    (and twice as fast as epoch + timedelta, which matters once per ``get_signal`` call).
    """
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_ms(value: object, field: str) -> int:
    """Milliseconds from an aware/naive (read as UTC) datetime or an int; ``ValueError`` otherwise."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{field} must be a datetime or int milliseconds, got {value!r}")


def _decimals(x: float) -> int:
    """Six significant digits, at least two decimals."""
    return max(2, 5 - int(math.floor(math.log10(abs(x))))) if x and math.isfinite(x) else 2


def short_price(x: float | None) -> str:
    """A price for a log line: six significant digits, at least two decimals, thousands grouped, no currency."""
    if x is None:
        return NA
    return f"{x:,.{_decimals(x)}f}"


def readable_price(symbol: str, x: float) -> str:
    """``format_price`` of the built-in exchanges (synthetic, memory, files): six significant digits, at least
    two decimals, plain digits (``42000.12``, ``0.0123456``), so reports stop printing 8 decimals everywhere."""
    return f"{x:.{_decimals(x)}f}"


def describe_result(result: Any) -> str:
    """One line in words for a live event: time, action, side, pair, short id and what matters for it
    (entry, TP and SL of an opening; reason and PnL of a close; reason of a cancel)."""
    action = getattr(result, "action", "?")
    row = getattr(result, "signal", None)
    at = getattr(result, "close_timestamp", None) or getattr(result, "timestamp", None)
    when = iso(at)[:16] + "Z" if at is not None else NA
    pair = f"{getattr(result, 'symbol', '?')} {getattr(result, 'strategy_name', '?')}"
    if row is None:
        return f"{when} {action} {pair}"
    head = f"{when} {action} {row.position} {pair} {row.id[:8]}"
    levels = f"TP {short_price(row.price_take_profit)}, SL {short_price(row.price_stop_loss)}"
    if action == "opened":
        return f"{head} at {short_price(row.price_open)} ({levels}, up to {row.minute_estimated_time} min)"
    if action == "scheduled":
        return f"{head}: limit entry {short_price(row.price_open)} ({levels})"
    if action == "closed":
        pnl = result.pnl
        return (f"{head} by {result.close_reason} at {short_price(pnl.price_close)} "
                f"(entry {short_price(pnl.price_open)}), PnL {pct(pnl.pnl_percentage)}")
    if action == "cancelled":
        return f"{head}: {result.reason}, limit entry {short_price(row.price_open)} never filled"
    return head
