"""Schema dataclasses, validated when they are built (SPEC §17.1).

Each schema checks its own fields in ``__post_init__`` and collects every
problem into one ``SchemaValidationError`` whose message starts with
``"<kind> schema validation failed: "``. Callbacks (a mapping or an object
with ``on_*`` attributes) are normalised into a read-only mapping of the
callables that are present, so the engine looks them up with one ``.get``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import SchemaValidationError
from .fmt import to_ms
from .intervals import FRAME_INTERVALS, STRATEGY_INTERVALS

CALLBACK_NAMES: dict[str, tuple[str, ...]] = {
    "exchange": ("on_candle_data",),
    "strategy": ("on_tick", "on_open", "on_close", "on_schedule", "on_cancel", "on_idle",
                 "on_active", "on_write", "on_partial_profit", "on_partial_loss", "on_ping"),
    "frame": ("on_timeframe",),
    "risk": ("on_rejected", "on_allowed"),
    "sizing": ("on_calculate",),
    "walker": ("on_strategy_start", "on_strategy_complete", "on_strategy_error", "on_complete"),
    "optimizer": ("on_source_data", "on_data", "on_code", "on_dump"),
}
WALKER_METRICS = ("sharpe_ratio", "annualized_sharpe_ratio", "win_rate", "total_pnl",
                  "certainty_ratio", "avg_pnl", "expected_yearly_returns",
                  # SPEC §20.4: every numeric field of BacktestStatistics (the walker keeps the greatest value)
                  "total_signals", "win_count", "loss_count", "std_dev", "compounded_return", "max_drawdown",
                  "profit_factor", "avg_win", "avg_loss", "expectancy", "avg_duration_minutes", "exposure", "cagr",
                  "daily_sharpe", "sortino", "calmar", "buy_and_hold_return")
SIZING_METHODS = ("fixed-percentage", "kelly-criterion", "atr-based")
#: Sections of the generated optimizer module, in the order they are written (SPEC §16.4); a
#: ``template`` override maps a section to jinja2 source, or a message role to a builder function.
OPTIMIZER_SECTIONS = ("imports", "exchange", "train_frame", "test_frame", "strategy", "walker", "launcher")
OPTIMIZER_MESSAGE_BUILDERS = ("user_message", "assistant_message")
EMPTY_CALLBACKS: Mapping[str, Callable[..., Any]] = MappingProxyType({})


class _Problems:
    """Collects the problems of one schema and raises them together."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def name(self, field_name: str, value: Any) -> None:
        if not isinstance(value, str) or not value:
            self.add(f"{field_name} must be a non-empty string, got {value!r}")

    def optional_text(self, field_name: str, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            self.add(f"{field_name} must be a string or None, got {type(value).__name__}")

    def function(self, field_name: str, value: Any, optional: bool = False) -> None:
        if value is None and optional:
            return
        if not callable(value):
            self.add(f"{field_name} must be callable, got {value!r}")

    def number(self, field_name: str, value: Any, *, minimum: float, strict: bool,
               optional: bool = False) -> None:
        if value is None and optional:
            return
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              and (value > minimum if strict else value >= minimum))
        if not ok:
            self.add(f"{field_name} must be a finite number {'>' if strict else '>='} {minimum:g}, got {value!r}")

    def raise_if_any(self) -> None:
        if self.items:
            raise SchemaValidationError(f"{self.kind} schema validation failed: " + "; ".join(self.items))


def normalize_callbacks(kind: str, callbacks: Any, problems: _Problems) -> Mapping[str, Callable[..., Any]]:
    """Read-only ``{name: callable}`` of the callbacks present in a mapping or an object."""
    if callbacks is None:
        return EMPTY_CALLBACKS
    allowed = CALLBACK_NAMES[kind]
    if isinstance(callbacks, Mapping):
        unknown = sorted(str(k) for k in callbacks if k not in allowed)
        if unknown:
            problems.add(f"unknown callbacks {unknown}; allowed: {list(allowed)}")
        found = {k: v for k, v in callbacks.items() if k in allowed and v is not None}
    else:
        found = {k: getattr(callbacks, k) for k in allowed if getattr(callbacks, k, None) is not None}
    for key, fn in found.items():
        if not callable(fn):
            problems.add(f"callback {key} must be callable, got {fn!r}")
    return MappingProxyType(found)


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class ExchangeSchema:
    """A candle source: ``get_candles(symbol, interval, since, limit)`` (SPEC §2.4)."""

    exchange_name: str
    get_candles: Callable[..., Any]
    format_price: Callable[[str, float], str] | None = None
    format_quantity: Callable[[str, float], str] | None = None
    note: str | None = None
    callbacks: Any = None
    #: ``fingerprint(symbol, interval, start_ms, end_ms) -> str`` changes whenever the candles the source would
    #: serve for that range change; orchestrators cache results only for sources that have one.
    fingerprint: Callable[[str, str, int, int], str] | None = None

    def __post_init__(self) -> None:
        p = _Problems("exchange")
        p.name("exchange_name", self.exchange_name)
        p.function("get_candles", self.get_candles)
        p.function("format_price", self.format_price, optional=True)
        p.function("format_quantity", self.format_quantity, optional=True)
        p.function("fingerprint", self.fingerprint, optional=True)
        p.optional_text("note", self.note)
        _set(self, "callbacks", normalize_callbacks("exchange", self.callbacks, p))
        p.raise_if_any()


@dataclass(frozen=True)
class StrategySchema:
    """A strategy: ``get_signal(symbol, when)`` throttled to ``interval``, or its batch form
    ``get_signals(symbol, candles)`` that returns the answers for many decision times at once
    (``candles``: the ``interval`` candles; ``lookback`` of them precede the first decision)."""

    strategy_name: str
    interval: str
    get_signal: Callable[..., Any] | None = None
    risk_name: str | None = None
    risk_list: tuple[str, ...] | None = None
    note: str | None = None
    callbacks: Any = None
    get_signals: Callable[..., Any] | None = None
    lookback: int = 200

    def __post_init__(self) -> None:
        p = _Problems("strategy")
        p.name("strategy_name", self.strategy_name)
        if self.interval not in STRATEGY_INTERVALS:
            p.add(f"interval must be one of {list(STRATEGY_INTERVALS)}, got {self.interval!r}")
        if (self.get_signal is None) == (self.get_signals is None):
            p.add("exactly one of get_signal and get_signals must be given")
        p.function("get_signal", self.get_signal, optional=True)
        p.function("get_signals", self.get_signals, optional=True)
        if isinstance(self.lookback, bool) or not isinstance(self.lookback, int) or self.lookback < 1:
            p.add(f"lookback must be an int >= 1, got {self.lookback!r}")
        if self.risk_name is not None:
            p.name("risk_name", self.risk_name)
        if self.risk_list is not None:
            if isinstance(self.risk_list, (str, bytes)) or not isinstance(self.risk_list, Sequence):
                p.add(f"risk_list must be a list of risk names, got {self.risk_list!r}")
            else:
                for item in self.risk_list:
                    p.name("risk_list item", item)
                if len(set(self.risk_list)) != len(self.risk_list):
                    p.add(f"risk_list has duplicates: {list(self.risk_list)!r}")
                _set(self, "risk_list", tuple(self.risk_list))
        p.optional_text("note", self.note)
        _set(self, "callbacks", normalize_callbacks("strategy", self.callbacks, p))
        p.raise_if_any()

    @property
    def risk_names(self) -> tuple[str, ...]:
        """Every risk profile this strategy checks, ``risk_name`` first (SPEC §10.5)."""
        names = (self.risk_name,) if self.risk_name else ()
        return names + tuple(r for r in (self.risk_list or ()) if r != self.risk_name)


@dataclass(frozen=True)
class FrameSchema:
    """A backtest time range stepped at ``interval``; dates are stored as ms (``start_ms``/``end_ms``)."""

    frame_name: str
    interval: str
    start_date: Any
    end_date: Any
    note: str | None = None
    callbacks: Any = None
    start_ms: int = field(init=False)
    end_ms: int = field(init=False)

    def __post_init__(self) -> None:
        p = _Problems("frame")
        p.name("frame_name", self.frame_name)
        if self.interval not in FRAME_INTERVALS:
            p.add(f"interval must be one of {list(FRAME_INTERVALS)}, got {self.interval!r}")
        bounds = {}
        for key in ("start_date", "end_date"):
            try:
                bounds[key] = to_ms(getattr(self, key), key)
            except ValueError as exc:
                p.add(str(exc))
        if len(bounds) == 2 and bounds["start_date"] > bounds["end_date"]:
            p.add(f"start_date must be <= end_date, got {self.start_date!r} > {self.end_date!r}")
        _set(self, "start_ms", bounds.get("start_date", 0))
        _set(self, "end_ms", bounds.get("end_date", 0))
        p.optional_text("note", self.note)
        _set(self, "callbacks", normalize_callbacks("frame", self.callbacks, p))
        p.raise_if_any()


@dataclass(frozen=True)
class RiskValidation:
    """One risk check: ``validate(payload)`` returns a falsy value to allow (SPEC §10.3)."""

    validate: Callable[[Any], Any]
    note: str | None = None


@dataclass(frozen=True)
class RiskSchema:
    """A risk profile shared by every strategy that names it."""

    risk_name: str
    validations: tuple[RiskValidation, ...]
    note: str | None = None
    callbacks: Any = None

    def __post_init__(self) -> None:
        p = _Problems("risk")
        p.name("risk_name", self.risk_name)
        items: list[RiskValidation] = []
        if isinstance(self.validations, (str, bytes, Mapping)) or not isinstance(self.validations, Sequence):
            p.add(f"validations must be a list, got {self.validations!r}")
        else:
            for k, v in enumerate(self.validations):
                if isinstance(v, RiskValidation):
                    items.append(v)
                elif isinstance(v, Mapping):
                    extra = sorted(set(v) - {"validate", "note"})
                    if extra:
                        p.add(f"validations[{k}] has unknown keys {extra}")
                    p.function(f"validations[{k}].validate", v.get("validate"))
                    p.optional_text(f"validations[{k}].note", v.get("note"))
                    items.append(RiskValidation(v.get("validate"), v.get("note")))
                elif callable(v):
                    items.append(RiskValidation(v))
                else:
                    p.add(f"validations[{k}] must be a callable or {{'validate', 'note'}} mapping, got {v!r}")
        _set(self, "validations", tuple(items))
        p.optional_text("note", self.note)
        _set(self, "callbacks", normalize_callbacks("risk", self.callbacks, p))
        p.raise_if_any()


@dataclass(frozen=True)
class SizingSchema:
    """Position sizing parameters (SPEC §11)."""

    sizing_name: str
    method: str
    risk_percentage: float | None = None
    kelly_multiplier: float = 0.25
    atr_multiplier: float = 2
    max_position_percentage: float | None = None
    min_position_size: float | None = None
    max_position_size: float | None = None
    note: str | None = None
    callbacks: Any = None

    def __post_init__(self) -> None:
        p = _Problems("sizing")
        p.name("sizing_name", self.sizing_name)
        if self.method not in SIZING_METHODS:
            p.add(f"method must be one of {list(SIZING_METHODS)}, got {self.method!r}")
        if self.method in ("fixed-percentage", "atr-based"):
            p.number("risk_percentage", self.risk_percentage, minimum=0, strict=True)
        if self.method == "kelly-criterion":
            p.number("kelly_multiplier", self.kelly_multiplier, minimum=0, strict=False)
        if self.method == "atr-based":
            p.number("atr_multiplier", self.atr_multiplier, minimum=0, strict=True)
        for cap in ("max_position_percentage", "min_position_size", "max_position_size"):
            p.number(cap, getattr(self, cap), minimum=0, strict=True, optional=True)
        p.optional_text("note", self.note)
        _set(self, "callbacks", normalize_callbacks("sizing", self.callbacks, p))
        p.raise_if_any()


@dataclass(frozen=True)
class WalkerSchema:
    """A comparison of strategies on one exchange and frame, ranked by ``metric``."""

    walker_name: str
    exchange_name: str
    frame_name: str
    strategies: tuple[str, ...]
    metric: str = "sharpe_ratio"
    note: str | None = None
    callbacks: Any = None

    def __post_init__(self) -> None:
        p = _Problems("walker")
        p.name("walker_name", self.walker_name)
        p.name("exchange_name", self.exchange_name)
        p.name("frame_name", self.frame_name)
        if isinstance(self.strategies, (str, bytes)) or not isinstance(self.strategies, Sequence) \
                or not self.strategies:
            p.add(f"strategies must be a non-empty list of strategy names, got {self.strategies!r}")
        else:
            for s in self.strategies:
                p.name("strategies item", s)
            if len(set(self.strategies)) != len(self.strategies):
                p.add(f"strategies must be unique, got {list(self.strategies)!r}")
            _set(self, "strategies", tuple(self.strategies))
        if self.metric not in WALKER_METRICS:
            p.add(f"metric must be one of {list(WALKER_METRICS)}, got {self.metric!r}")
        p.optional_text("note", self.note)
        _set(self, "callbacks", normalize_callbacks("walker", self.callbacks, p))
        p.raise_if_any()


@dataclass(frozen=True)
class OptimizerSchema:
    """LLM strategy generation: training ranges, data sources and the prompt builder (SPEC §16.1)."""

    optimizer_name: str
    range_train: tuple[Mapping[str, Any], ...]
    range_test: Mapping[str, Any]
    source: tuple[Any, ...]
    get_prompt: Callable[..., str]
    template: Mapping[str, Any] | None = None
    model: str = "deepseek-v3.1:671b"
    host: str | None = None
    note: str | None = None
    callbacks: Any = None

    def __post_init__(self) -> None:
        p = _Problems("optimizer")
        p.name("optimizer_name", self.optimizer_name)
        if not isinstance(self.range_train, Sequence) or isinstance(self.range_train, (str, bytes)) \
                or not self.range_train:
            p.add(f"range_train must be a non-empty list of ranges, got {self.range_train!r}")
        else:
            for k, r in enumerate(self.range_train):
                _check_range(p, f"range_train[{k}]", r)
            _set(self, "range_train", tuple(self.range_train))
        _check_range(p, "range_test", self.range_test)
        if not isinstance(self.source, Sequence) or isinstance(self.source, (str, bytes)) or not self.source:
            p.add(f"source must be a non-empty list, got {self.source!r}")
        else:
            for k, s in enumerate(self.source):
                if isinstance(s, Mapping):
                    p.name(f"source[{k}].name", s.get("name"))
                    p.function(f"source[{k}].fetch", s.get("fetch"))
                    p.function(f"source[{k}].user", s.get("user"), optional=True)
                    p.function(f"source[{k}].assistant", s.get("assistant"), optional=True)
                elif not callable(s):
                    p.add(f"source[{k}] must be a fetch callable or a mapping, got {s!r}")
            _set(self, "source", tuple(self.source))
        p.function("get_prompt", self.get_prompt)
        if self.template is not None and not isinstance(self.template, Mapping):
            p.add(f"template must be a mapping or None, got {self.template!r}")
        for key, value in (self.template or {}).items():
            if key in OPTIMIZER_SECTIONS:
                if not isinstance(value, str):
                    p.add(f"template[{key!r}] must be jinja2 source text, got {type(value).__name__}")
            elif key in OPTIMIZER_MESSAGE_BUILDERS:
                p.function(f"template[{key!r}]", value)
            else:
                p.add(f"template key {key!r} is not one of {list(OPTIMIZER_SECTIONS + OPTIMIZER_MESSAGE_BUILDERS)}")
        p.name("model", self.model)
        p.optional_text("host", self.host)
        p.optional_text("note", self.note)
        _set(self, "callbacks", normalize_callbacks("optimizer", self.callbacks, p))
        p.raise_if_any()


def _check_range(p: _Problems, where: str, r: Any) -> None:
    if not isinstance(r, Mapping) or "start_date" not in r or "end_date" not in r:
        p.add(f"{where} must be a mapping with start_date and end_date, got {r!r}")
        return
    try:
        if to_ms(r["start_date"], f"{where}.start_date") > to_ms(r["end_date"], f"{where}.end_date"):
            p.add(f"{where}.start_date must be <= end_date")
    except ValueError as exc:
        p.add(str(exc))
