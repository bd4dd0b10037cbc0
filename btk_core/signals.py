"""Signals: what ``get_signal`` returns, the stored row, note cleaning and validation (SPEC §3).

``build_row`` turns a user answer into a validated :class:`SignalRow` or raises
``SignalValidationError`` whose message lists every broken rule in the order of
§3.5, so a strategy author sees all problems of a signal at once.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import SignalValidationError
from .fmt import num
from .ids import new_id

SIGNAL_FIELDS = ("position", "price_take_profit", "price_stop_loss", "minute_estimated_time",
                 "price_open", "note", "id")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class SignalDto:
    """A signal as a dataclass; equivalent to the mapping form."""

    position: str
    price_take_profit: float
    price_stop_loss: float
    minute_estimated_time: int
    price_open: float | None = None
    note: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class SignalRow:
    """A validated signal as stored, reported and persisted (SPEC §3.2)."""

    id: str
    position: str
    note: str
    price_open: float
    price_take_profit: float
    price_stop_loss: float
    minute_estimated_time: int
    symbol: str
    exchange_name: str
    strategy_name: str
    scheduled_at: int
    pending_at: int
    is_scheduled: bool

    @property
    def was_scheduled(self) -> bool:
        return self.pending_at > self.scheduled_at


SIGNAL_ROW_FIELDS = tuple(f.name for f in fields(SignalRow))

# ---- note normalisation (SPEC §3.3) -------------------------------------------------------
_NOTE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```.*?```", re.S), ""),
    (re.compile(r"^[ \t]*(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$", re.M), ""),
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"^[ \t]*#{1,6}[ \t]*", re.M), ""),
    (re.compile(r"\*\*\*(.+?)\*\*\*"), r"\1"),
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"\*(.+?)\*"), r"\1"),
    (re.compile(r"(?<!\w)___(.+?)___(?!\w)"), r"\1"),
    (re.compile(r"(?<!\w)__(.+?)__(?!\w)"), r"\1"),
    (re.compile(r"(?<!\w)_(.+?)_(?!\w)"), r"\1"),
    (re.compile(r"~~"), ""),
    (re.compile(r"^[ \t]*>[ \t]?", re.M), ""),
    (re.compile(r"^[ \t]*(?:[-*+]|\d+\.)[ \t]+", re.M), "• "),
    (re.compile(r"<[^>]+>"), ""),
    (re.compile(r"\s+"), " "),
)


def to_plain_string(note: str | None) -> str:
    """Markdown/HTML note -> one plain line (``None`` -> ``""``)."""
    if note is None:
        return ""
    text = note
    for pattern, replacement in _NOTE_RULES:
        text = pattern.sub(replacement, text)
    return text.strip()


# ---- validation (SPEC §3.5) ---------------------------------------------------------------
def _show(value: Any) -> str:
    """How a value prints in a validation line (SPEC §19.4)."""
    if value is _MISSING or value is None:
        return "N/A"
    if isinstance(value, (int, float)):
        return num(value)
    return repr(value)


def _finite_number(v: Any) -> bool:
    if type(v) is float:  # the usual answer: finite exactly when v - v is 0 (inf - inf and NaN give NaN)
        return v - v == 0.0
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _as_mapping(signal: Any) -> dict[str, Any] | None:
    if type(signal) is dict:  # the usual answer, before the slower ABC check
        return dict(signal)
    if isinstance(signal, SignalDto):
        return {f: getattr(signal, f) for f in SIGNAL_FIELDS}
    if isinstance(signal, Mapping):
        return dict(signal)
    return None


def _relation_lines(side: str, o: float, tp: float, sl: float, p: float, immediate: bool, cfg: Any) -> list[str]:
    long = side == "long"
    name = "Long" if long else "Short"
    lines = []
    if long and not tp > o:
        lines.append(f"Long: price_take_profit ({num(tp)}) must be > price_open ({num(o)})")
    if not long and not tp < o:
        lines.append(f"Short: price_take_profit ({num(tp)}) must be < price_open ({num(o)})")
    if long and not sl < o:
        lines.append(f"Long: price_stop_loss ({num(sl)}) must be < price_open ({num(o)})")
    if not long and not sl > o:
        lines.append(f"Short: price_stop_loss ({num(sl)}) must be > price_open ({num(o)})")
    if immediate:
        if (p <= sl) if long else (p >= sl):
            lines.append(f"{name} immediate: current_price ({num(p)}) {'<=' if long else '>='} price_stop_loss "
                         f"({num(sl)}), the position would be stopped out at once")
        if (p >= tp) if long else (p <= tp):
            lines.append(f"{name} immediate: current_price ({num(p)}) {'>=' if long else '<='} price_take_profit "
                         f"({num(tp)}), the profit is already gone")
    else:
        if (o <= sl) if long else (o >= sl):
            lines.append(f"{name} scheduled: price_open ({num(o)}) {'<=' if long else '>='} price_stop_loss "
                         f"({num(sl)}), it would stop out on activation")
        if (o >= tp) if long else (o <= tp):
            lines.append(f"{name} scheduled: price_open ({num(o)}) {'>=' if long else '<='} price_take_profit "
                         f"({num(tp)}), it would close on activation")
    d_tp = (tp - o) / o * 100 if long else (o - tp) / o * 100
    d_sl = (o - sl) / o * 100 if long else (sl - o) / o * 100
    min_tp = cfg.CC_MIN_TAKEPROFIT_DISTANCE_PERCENT
    min_sl = cfg.CC_MIN_STOPLOSS_DISTANCE_PERCENT
    max_sl = cfg.CC_MAX_STOPLOSS_DISTANCE_PERCENT
    if min_tp != 0 and d_tp < min_tp:
        lines.append(f"{name}: take profit too close to price_open ({d_tp:.3f}%), minimum {num(min_tp)}%")
    if min_sl != 0 and d_sl < min_sl:
        lines.append(f"{name}: stop loss too close to price_open ({d_sl:.3f}%), minimum {num(min_sl)}%")
    if max_sl != 0 and d_sl > max_sl:
        lines.append(f"{name}: stop loss too far from price_open ({d_sl:.3f}%), maximum {num(max_sl)}%")
    return lines


def _lifetime_lines(m: Any, cfg: Any) -> list[str]:
    if not isinstance(m, (int, float)) or isinstance(m, bool):
        return [f"minute_estimated_time must be a number, got {_show(m)}"]
    if not m > 0:
        return [f"minute_estimated_time must be positive, got {_show(m)}"]
    if not math.isfinite(m) or m != int(m):
        return [f"minute_estimated_time must be an integer (whole number), got {_show(m)}"]
    limit = cfg.CC_MAX_SIGNAL_LIFETIME_MINUTES
    if limit != 0 and m > limit:
        return [f"minute_estimated_time too large ({num(m)} minutes = {m / 1440:.1f} days). "
                f"Maximum: {num(limit)} minutes"]
    return []


def build_row(signal: Any, *, current_price: Any, when: int, symbol: str, exchange_name: str,
              strategy_name: str, cfg: Any) -> SignalRow:
    """Validate a ``get_signal`` answer at ``when`` and build its row (immediate or scheduled, §3.4)."""
    data = _as_mapping(signal)
    if data is None:
        raise SignalValidationError(
            f"Invalid signal:\nsignal must be a mapping or SignalDto, got {type(signal).__name__}")
    lines = [f"unknown field '{key}'" for key in data if key not in SIGNAL_FIELDS]
    raw_id = data.get("id")
    if raw_id is not None and not isinstance(raw_id, str):
        lines.append("id must be a non-empty string")
    for name, value in (("symbol", symbol), ("exchange_name", exchange_name), ("strategy_name", strategy_name)):
        if not isinstance(value, str) or not value:
            lines.append(f"{name} must be a non-empty string")
    position = data.get("position", _MISSING)
    position_ok = position in ("long", "short") and isinstance(position, str)
    if not position_ok:
        lines.append(f"position must be 'long' or 'short', got {_show(position)}")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        lines.append("note must be a string")
    prices_ok = True
    if not _finite_number(current_price):
        lines.append(f"current_price must be a finite number, got {_show(current_price)}")
        prices_ok = False
    elif not current_price > 0:
        lines.append(f"current_price must be positive, got {_show(current_price)}")
        prices_ok = False
    price_open = data.get("price_open")
    for name in ("price_open", "price_take_profit", "price_stop_loss"):
        value = data.get(name, _MISSING)
        if name == "price_open" and (value is None or value is _MISSING):
            continue
        if not _finite_number(value):
            lines.append(f"{name} must be a finite number, got {_show(value)}")
            prices_ok = False
        elif not value > 0:
            lines.append(f"{name} must be positive, got {_show(value)}")
            prices_ok = False
    immediate = True
    if position_ok and prices_ok:
        p = float(current_price)
        if price_open is not None:
            immediate = p <= price_open if position == "long" else p >= price_open
        o = float(price_open) if price_open is not None else p
        lines += _relation_lines(position, o, float(data["price_take_profit"]), float(data["price_stop_loss"]),
                                 p, immediate, cfg)
    lines += _lifetime_lines(data.get("minute_estimated_time", _MISSING), cfg)
    if lines:
        header = f"Invalid signal for {position} position:" if position_ok else "Invalid signal:"
        raise SignalValidationError(header + "".join("\n" + line for line in lines))
    return SignalRow(
        id=raw_id if raw_id else new_id(),
        position=position,
        note=to_plain_string(note),
        price_open=float(price_open) if price_open is not None else float(current_price),
        price_take_profit=float(data["price_take_profit"]),
        price_stop_loss=float(data["price_stop_loss"]),
        minute_estimated_time=int(data["minute_estimated_time"]),
        symbol=symbol, exchange_name=exchange_name, strategy_name=strategy_name,
        scheduled_at=when, pending_at=when, is_scheduled=not immediate)


def row_from_json(data: Any, cfg: Any) -> SignalRow:
    """A stored row back from JSON, checked field by field and against the relation rules that need no
    market price (SPEC §9.5). ``ValueError`` says what is wrong."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a signal row must be a JSON object, got {type(data).__name__}")
    missing = [f for f in SIGNAL_ROW_FIELDS if f not in data]
    if missing:
        raise ValueError(f"missing field '{missing[0]}'")
    extra = [f for f in data if f not in SIGNAL_ROW_FIELDS]
    if extra:
        raise ValueError(f"unknown field '{extra[0]}'")
    for name in ("id", "symbol", "exchange_name", "strategy_name"):
        if not isinstance(data[name], str) or not data[name]:
            raise ValueError(f"{name} must be a non-empty string")
    if data["position"] not in ("long", "short") or not isinstance(data["note"], str):
        raise ValueError("position must be 'long' or 'short' and note a string")
    for name in ("price_open", "price_take_profit", "price_stop_loss"):
        if not _finite_number(data[name]) or not data[name] > 0:
            raise ValueError(f"{name} must be a positive finite number")
    for name in ("minute_estimated_time", "scheduled_at", "pending_at"):
        if type(data[name]) is not int:
            raise ValueError(f"{name} must be an int")
    if not isinstance(data["is_scheduled"], bool):
        raise ValueError("is_scheduled must be a bool")
    lines = _relation_lines(data["position"], float(data["price_open"]), float(data["price_take_profit"]),
                            float(data["price_stop_loss"]), 0.0, False, cfg)
    lines += _lifetime_lines(data["minute_estimated_time"], cfg)
    if lines:
        raise ValueError("; ".join(lines))
    return SignalRow(**{f: data[f] for f in SIGNAL_ROW_FIELDS})
