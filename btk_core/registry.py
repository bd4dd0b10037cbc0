"""Registration and lookup of schemas by name (SPEC §17.1).

Names are unique per kind; lookups of unknown names raise ``UnknownNameError``
naming the kind and the name, so a typo in a flow parameter fails loudly.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import DuplicateNameError, SchemaValidationError, UnknownNameError
from .params import StrategyFamily, variant_base
from .schemas import (
    ExchangeSchema,
    FrameSchema,
    OptimizerSchema,
    RiskSchema,
    SizingSchema,
    StrategySchema,
    WalkerSchema,
)

S = TypeVar("S")
_KINDS = ("exchange", "strategy", "frame", "risk", "sizing", "walker", "optimizer")
_lock = threading.Lock()
_schemas: dict[str, dict[str, Any]] = {kind: {} for kind in _KINDS}
_families: dict[str, StrategyFamily] = {}  # parameterised strategies; their variants join _schemas when looked up


def _register(kind: str, name: str, schema: S) -> S:
    with _lock:
        table = _schemas[kind]
        if name in table:
            raise DuplicateNameError(f"{kind} '{name}' already exists")
        table[name] = schema
    return schema


def lookup(kind: str, name: str) -> Any:
    """The registered schema of ``kind`` called ``name``; a variant of a parameterised strategy
    (``sma[fast=10,slow=40]``) is built and registered on its first lookup."""
    try:
        return _schemas[kind][name]
    except KeyError:
        pass
    if kind == "strategy":
        return _variant(name)
    raise UnknownNameError(f"{kind} '{name}' not found")


def _variant(name: str) -> StrategySchema:
    family = _families.get(variant_base(name) or name)
    if family is None:
        raise UnknownNameError(f"strategy '{name}' not found")
    if name == family.strategy_name:
        example = family.variant_name(family.first())
        raise UnknownNameError(f"strategy '{name}' has parameters {list(family.params)}: name a variant such as "
                               f"'{example}'")
    schema = family.build(family.parse(name))
    with _lock:
        return _schemas["strategy"].setdefault(schema.strategy_name, schema)


def lookup_family(name: str) -> StrategyFamily:
    """The parameterised strategy ``name`` (``UnknownNameError`` if there is none)."""
    try:
        return _families[name]
    except KeyError:
        raise UnknownNameError(f"parameterised strategy '{name}' not found (add_strategy(..., make=, params=))") \
            from None


def strategy_variants(strategy_name: str) -> list[str]:
    """Every variant name of a parameterised strategy's grid that satisfies its constraint."""
    family = lookup_family(strategy_name)
    return [family.variant_name(values) for values in family.combinations()]


def _listing(kind: str) -> list[Any]:
    with _lock:
        return list(_schemas[kind].values())


def clear_registry() -> None:
    """Forget every schema (tests, and re-running a setup module in the same process)."""
    with _lock:
        for table in _schemas.values():
            table.clear()
        _families.clear()


def add_exchange(*, exchange_name: str, get_candles: Callable[..., Any], format_price: Any = None,
                 format_quantity: Any = None, note: str | None = None, callbacks: Any = None,
                 fingerprint: Any = None) -> ExchangeSchema:
    """Register a candle source ``get_candles(symbol, interval, since, limit)``; ``fingerprint(symbol, interval,
    start_ms, end_ms) -> str`` (optional) lets orchestrators cache results until the data changes."""
    schema = ExchangeSchema(exchange_name, get_candles, format_price, format_quantity, note, callbacks, fingerprint)
    return _register("exchange", exchange_name, schema)


def add_strategy(*, strategy_name: str, interval: str, get_signal: Callable[..., Any] | None = None,
                 risk_name: str | None = None, risk_list: Any = None, note: str | None = None,
                 callbacks: Any = None, get_signals: Callable[..., Any] | None = None,
                 lookback: int = 200, make: Callable[..., Any] | None = None, params: Any = None,
                 constraint: Callable[..., bool] | None = None) -> StrategySchema | StrategyFamily:
    """Register a strategy whose ``get_signal(symbol, when)`` is called at most once per ``interval``, or
    whose ``get_signals(symbol, candles)`` returns a DataFrame of signals indexed by decision time (ms):
    a backtest calls it once with the frame's ``interval`` candles (``lookback`` candles of history
    first), live calls it with the last ``lookback`` closed candles and uses the row of the tick.

    With ``make`` and ``params`` instead, register a parameterised strategy: ``make(values)`` returns the
    ``get_signal`` of one combination (or a mapping with ``get_signal`` or ``get_signals``), ``params`` maps
    each parameter to its values, ``constraint(values)`` excludes combinations; each combination is the
    strategy ``name[p1=v1,p2=v2]`` (see ``strategy_variants``)."""
    if make is not None or params is not None:
        if get_signal is not None or get_signals is not None:
            raise SchemaValidationError("Invalid strategy:\ngive either make and params, or get_signal / get_signals")
        family = StrategyFamily.create(strategy_name=strategy_name, interval=interval, make=make, params=params,
                                       constraint=constraint, risk_name=risk_name, risk_list=risk_list, note=note,
                                       callbacks=callbacks, lookback=lookback)
        with _lock:
            if strategy_name in _families or strategy_name in _schemas["strategy"]:
                raise DuplicateNameError(f"strategy '{strategy_name}' already exists")
            _families[strategy_name] = family
        return family
    if strategy_name in _families:
        raise DuplicateNameError(f"strategy '{strategy_name}' already exists")
    schema = StrategySchema(strategy_name, interval, get_signal, risk_name, risk_list, note, callbacks,
                            get_signals, lookback)
    return _register("strategy", strategy_name, schema)


def add_frame(*, frame_name: str, interval: str, start_date: Any, end_date: Any,
              note: str | None = None, callbacks: Any = None) -> FrameSchema:
    """Register a backtest frame (both ends inclusive)."""
    schema = FrameSchema(frame_name, interval, start_date, end_date, note, callbacks)
    return _register("frame", frame_name, schema)


def add_risk(*, risk_name: str, validations: Any, note: str | None = None,
             callbacks: Any = None) -> RiskSchema:
    """Register a risk profile."""
    return _register("risk", risk_name, RiskSchema(risk_name, validations, note, callbacks))


def add_sizing(*, sizing_name: str, method: str, risk_percentage: float | None = None,
               kelly_multiplier: float = 0.25, atr_multiplier: float = 2,
               max_position_percentage: float | None = None, min_position_size: float | None = None,
               max_position_size: float | None = None, note: str | None = None,
               callbacks: Any = None) -> SizingSchema:
    """Register a position sizing method."""
    schema = SizingSchema(sizing_name, method, risk_percentage, kelly_multiplier, atr_multiplier,
                          max_position_percentage, min_position_size, max_position_size, note, callbacks)
    return _register("sizing", sizing_name, schema)


def add_walker(*, walker_name: str, exchange_name: str, frame_name: str, strategies: Any,
               metric: str = "sharpe_ratio", note: str | None = None, callbacks: Any = None) -> WalkerSchema:
    """Register a strategy comparison."""
    schema = WalkerSchema(walker_name, exchange_name, frame_name, strategies, metric, note, callbacks)
    return _register("walker", walker_name, schema)


def add_optimizer(*, optimizer_name: str, range_train: Any, range_test: Any, source: Any,
                  get_prompt: Callable[..., str], template: Any = None, model: str = "deepseek-v3.1:671b",
                  host: str | None = None, note: str | None = None, callbacks: Any = None) -> OptimizerSchema:
    """Register an LLM strategy optimizer."""
    schema = OptimizerSchema(optimizer_name, range_train, range_test, source, get_prompt, template,
                             model, host, note, callbacks)
    return _register("optimizer", optimizer_name, schema)


def list_exchanges() -> list[ExchangeSchema]:
    return _listing("exchange")


def list_strategies() -> list[StrategySchema]:
    return _listing("strategy")


def list_frames() -> list[FrameSchema]:
    return _listing("frame")


def list_risks() -> list[RiskSchema]:
    return _listing("risk")


def list_sizings() -> list[SizingSchema]:
    return _listing("sizing")


def list_walkers() -> list[WalkerSchema]:
    return _listing("walker")


def list_optimizers() -> list[OptimizerSchema]:
    return _listing("optimizer")
