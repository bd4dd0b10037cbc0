"""Global configuration with validation (SPEC §1).

The table below is the single source of truth: defaults, order (error lines
follow it) and the rules, each with the words used in its error line. A run
takes a frozen :class:`ConfigSnapshot` at its start so that ``set_config``
during a run only affects later runs.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from .errors import ConfigValidationError

Check = tuple[Callable[[Any, Mapping[str, Any]], bool], str]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return _is_number(v) and math.isfinite(v)


def _levels_ok(v: Any) -> bool:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        return False
    if not all(_finite(x) and 0 < x < 100 for x in v):
        return False
    return all(a < b for a, b in zip(v, v[1:]))


FINITE_GE_0: list[Check] = [(lambda v, c: _finite(v) and v >= 0, "a finite number >= 0")]
FINITE_GT_0: list[Check] = [(lambda v, c: _finite(v) and v > 0, "a finite number > 0")]
POSITIVE_INT: list[Check] = [(lambda v, c: _is_int(v) and v > 0, "a positive int")]
NON_NEGATIVE_INT: list[Check] = [(lambda v, c: _is_int(v) and v >= 0, "a non-negative int")]
LEVELS: list[Check] = [(lambda v, c: _levels_ok(v),
                        "a strictly increasing sequence of finite numbers, each > 0 and < 100")]


def _min_tp_floor(c: Mapping[str, Any]) -> float | None:
    slip, fee = c["CC_PERCENT_SLIPPAGE"], c["CC_PERCENT_FEE"]
    if not (_finite(slip) and _finite(fee)):
        return None  # their own rows report the problem
    return 2 * slip + 2 * fee


@dataclass(frozen=True)
class _Row:
    key: str
    default: Any
    checks: list[Check]


_ROWS: tuple[_Row, ...] = (
    _Row("CC_PERCENT_FEE", 0.1, FINITE_GE_0),
    _Row("CC_PERCENT_SLIPPAGE", 0.1, FINITE_GE_0),
    _Row("CC_MIN_TAKEPROFIT_DISTANCE_PERCENT", 0.5, FINITE_GT_0 + [(
        lambda v, c: (f := _min_tp_floor(c)) is None or v >= f,
        ">= 2 * CC_PERCENT_SLIPPAGE + 2 * CC_PERCENT_FEE")]),
    _Row("CC_MIN_STOPLOSS_DISTANCE_PERCENT", 0.5, FINITE_GT_0 + [(
        lambda v, c: not _finite(c["CC_MAX_STOPLOSS_DISTANCE_PERCENT"])
        or v < c["CC_MAX_STOPLOSS_DISTANCE_PERCENT"],
        "< CC_MAX_STOPLOSS_DISTANCE_PERCENT")]),
    _Row("CC_MAX_STOPLOSS_DISTANCE_PERCENT", 20, FINITE_GT_0),
    _Row("CC_MAX_SIGNAL_LIFETIME_MINUTES", 1440, POSITIVE_INT),
    _Row("CC_SCHEDULE_AWAIT_MINUTES", 120, POSITIVE_INT),
    _Row("CC_MAX_SIGNAL_GENERATION_SECONDS", 180, POSITIVE_INT),
    _Row("CC_AVG_PRICE_CANDLES_COUNT", 5, POSITIVE_INT),
    _Row("CC_GET_CANDLES_RETRY_COUNT", 3, NON_NEGATIVE_INT),
    _Row("CC_GET_CANDLES_RETRY_DELAY_MS", 5000, NON_NEGATIVE_INT),
    _Row("CC_GET_CANDLES_PRICE_ANOMALY_THRESHOLD_FACTOR", 1000, POSITIVE_INT),
    _Row("CC_GET_CANDLES_MIN_CANDLES_FOR_MEDIAN", 5, POSITIVE_INT),
    _Row("CC_REPORT_SHOW_SIGNAL_NOTE", False, [(lambda v, c: isinstance(v, bool), "a bool")]),
    _Row("CC_SAME_CANDLE_PRIORITY", "stop_loss",
         [(lambda v, c: v in ("stop_loss", "take_profit") and isinstance(v, str),
           "'stop_loss' or 'take_profit'")]),
    _Row("CC_PARTIAL_PROFIT_LEVELS", (10, 20, 30, 40, 50, 60, 70, 80, 90), LEVELS),
    _Row("CC_PARTIAL_LOSS_LEVELS", (40, 80), LEVELS),
    _Row("CC_LIVE_MAX_EVENTS", 25, POSITIVE_INT),
    _Row("CC_SCHEDULE_MAX_EVENTS", 250, POSITIVE_INT),
    _Row("CC_PARTIAL_MAX_EVENTS", 250, POSITIVE_INT),
    _Row("CC_RISK_MAX_EVENTS", 250, POSITIVE_INT),
    _Row("CC_PERFORMANCE_MAX_EVENTS", 10000, POSITIVE_INT),
    _Row("CC_BACKTEST_MAX_SIGNALS", 0, NON_NEGATIVE_INT),
    _Row("CC_HEAT_MAX_TRADES_PER_SYMBOL", 0, NON_NEGATIVE_INT),
    _Row("CC_LIVE_TICK_TTL_MS", 60000, POSITIVE_INT),
    _Row("CC_LIVE_HEARTBEAT_TICKS", 15, POSITIVE_INT),
    _Row("CC_CANDLE_BLOCK_SIZE", 1000, POSITIVE_INT),
    _Row("CC_OPTIMIZER_MAX_PROMPT_TOKENS", 8000,
         [(lambda v, c: _is_int(v) and v >= 500, "an int >= 500 (tokens of one prompt of a generated strategy)")]),
    _Row("CC_PERSIST_BASE_DIR", "./dump/data",
         [(lambda v, c: isinstance(v, str) and v != "", "a non-empty str")]),
)
_DEFAULTS: dict[str, Any] = {row.key: row.default for row in _ROWS}
_LEVEL_KEYS = ("CC_PARTIAL_PROFIT_LEVELS", "CC_PARTIAL_LOSS_LEVELS")



@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """The config a run uses from start to end, read by attribute (``cfg.CC_PERCENT_FEE``), typed; its fields
    are the rows of the table above, in the same order (checked at import)."""

    CC_PERCENT_FEE: float
    CC_PERCENT_SLIPPAGE: float
    CC_MIN_TAKEPROFIT_DISTANCE_PERCENT: float
    CC_MIN_STOPLOSS_DISTANCE_PERCENT: float
    CC_MAX_STOPLOSS_DISTANCE_PERCENT: float
    CC_MAX_SIGNAL_LIFETIME_MINUTES: int
    CC_SCHEDULE_AWAIT_MINUTES: int
    CC_MAX_SIGNAL_GENERATION_SECONDS: int
    CC_AVG_PRICE_CANDLES_COUNT: int
    CC_GET_CANDLES_RETRY_COUNT: int
    CC_GET_CANDLES_RETRY_DELAY_MS: int
    CC_GET_CANDLES_PRICE_ANOMALY_THRESHOLD_FACTOR: int
    CC_GET_CANDLES_MIN_CANDLES_FOR_MEDIAN: int
    CC_REPORT_SHOW_SIGNAL_NOTE: bool
    CC_SAME_CANDLE_PRIORITY: Literal["stop_loss", "take_profit"]
    CC_PARTIAL_PROFIT_LEVELS: tuple[float, ...]
    CC_PARTIAL_LOSS_LEVELS: tuple[float, ...]
    CC_LIVE_MAX_EVENTS: int
    CC_SCHEDULE_MAX_EVENTS: int
    CC_PARTIAL_MAX_EVENTS: int
    CC_RISK_MAX_EVENTS: int
    CC_PERFORMANCE_MAX_EVENTS: int
    CC_BACKTEST_MAX_SIGNALS: int
    CC_HEAT_MAX_TRADES_PER_SYMBOL: int
    CC_LIVE_TICK_TTL_MS: int
    CC_LIVE_HEARTBEAT_TICKS: int
    CC_CANDLE_BLOCK_SIZE: int
    CC_OPTIMIZER_MAX_PROMPT_TOKENS: int
    CC_PERSIST_BASE_DIR: str


assert [f.name for f in fields(ConfigSnapshot)] == [row.key for row in _ROWS], "ConfigSnapshot must follow _ROWS"

_lock = threading.Lock()
_current: dict[str, Any] = dict(_DEFAULTS)


def _failures(candidate: Mapping[str, Any]) -> list[str]:
    lines = []
    for row in _ROWS:
        value = candidate[row.key]
        for predicate, wording in row.checks:
            if not predicate(value, candidate):
                lines.append(f"{row.key} must be {wording}, got {value!r}")
                break
    return lines


def set_config(*, unsafe: bool = False, **values: Any) -> None:
    """Validate and apply config values; on any error nothing changes (SPEC §1)."""
    for key in values:
        if key not in _DEFAULTS:
            raise ConfigValidationError(f"unknown config key: {key}")
    with _lock:
        candidate = {**_current, **values}
        if not unsafe:
            failures = _failures(candidate)
            if failures:
                body = "".join(f"\n  {k}. {line}" for k, line in enumerate(failures, 1))
                raise ConfigValidationError("GLOBAL_CONFIG validation failed:" + body)
        for key in _LEVEL_KEYS:
            if isinstance(candidate[key], (list, tuple)):
                candidate[key] = tuple(candidate[key])
        _current.clear()
        _current.update(candidate)


def get_config() -> dict[str, Any]:
    """A copy of the current values."""
    with _lock:
        return dict(_current)


def value(key: str) -> Any:
    """One current value, without copying the whole config (for per-event limits)."""
    return _current[key]


def get_default_config() -> dict[str, Any]:
    """A copy of the defaults."""
    return dict(_DEFAULTS)


def snapshot() -> ConfigSnapshot:
    """Freeze the current config for one run."""
    with _lock:
        return ConfigSnapshot(**_current)


def reset_config() -> None:
    """Restore every default (used by tests and by the CLI between runs)."""
    with _lock:
        _current.clear()
        _current.update(_DEFAULTS)
