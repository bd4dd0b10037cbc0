"""Parameterised strategies: one registration, a named variant per combination of parameter values.

    add_strategy(strategy_name="sma", interval="5m", make=lambda p: {"get_signals": partial(sma, **p)},
                 params={"fast": [5, 10, 20], "slow": range(20, 101, 20)}, constraint=lambda p: p["fast"] < p["slow"])

``sma[fast=10,slow=40]`` is then a strategy name like any other (Backtest, Walker, reports, live): the first
lookup builds its schema from ``make(params)`` and registers it, so a worker that rebuilt the registry from
the setup resolves the same name to the same strategy. Names are canonical (parameters in declaration order,
values as declared), which makes every variant reproducible from its name alone.
"""
from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import SchemaValidationError, UnknownNameError
from .fmt import num
from .schemas import StrategySchema

Params = dict[str, Any]
_VARIANT = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<body>[^\[\]]*)\]$")
_UNSAFE = re.compile(r"[\[\],=]")


def value_text(value: Any) -> str:
    """A parameter value as it appears in a variant name (``10``, ``0.5``, ``ema``, ``True``)."""
    return num(value)


@dataclass(frozen=True)
class StrategyFamily:
    """A strategy registered with a parameter space; ``make(params)`` returns ``get_signal`` (a callable) or a
    mapping with ``get_signal`` or ``get_signals`` (and optionally ``lookback``)."""

    strategy_name: str
    interval: str
    make: Callable[[Params], Any]
    params: Mapping[str, tuple[Any, ...]]
    constraint: Callable[[Params], bool] | None = None
    risk_name: str | None = None
    risk_list: tuple[str, ...] | None = None
    note: str | None = None
    callbacks: Any = None
    lookback: int = 200

    @classmethod
    def create(cls, *, strategy_name: str, interval: str, make: Any, params: Any, constraint: Any = None,
               **base: Any) -> StrategyFamily:
        problems = []
        if not callable(make):
            problems.append(f"make must be callable, got {make!r}")
        if constraint is not None and not callable(constraint):
            problems.append(f"constraint must be callable, got {constraint!r}")
        space: dict[str, tuple[Any, ...]] = {}
        if not isinstance(params, Mapping) or not params:
            problems.append(f"params must be a non-empty mapping of name -> values, got {params!r}")
        else:
            for name, values in params.items():
                values = tuple(values) if isinstance(values, Iterable) and not isinstance(values, str) else None
                if not isinstance(name, str) or not name or _UNSAFE.search(name):
                    problems.append(f"params name {name!r} must be a non-empty string without [ ] , =")
                elif not values:
                    problems.append(f"params {name!r} must be a non-empty list of values")
                elif any(not isinstance(v, (int, float, str, bool)) or _UNSAFE.search(value_text(v)) for v in values):
                    problems.append(f"params {name!r} values must be numbers, strings or booleans without [ ] , =")
                elif len({value_text(v) for v in values}) != len(values):
                    problems.append(f"params {name!r} has duplicate values: {list(values)!r}")
                else:
                    space[name] = values
        if problems:
            raise SchemaValidationError("Invalid strategy:\n" + "\n".join(problems))
        family = cls(strategy_name, interval, make, space, constraint, **base)
        combos = family.combinations()
        family.build(combos[0] if combos else family.first())  # a bad make fails at registration
        return family

    def first(self) -> Params:
        return {name: values[0] for name, values in self.params.items()}

    def variant_name(self, values: Mapping[str, Any]) -> str:
        return f"{self.strategy_name}[" + ",".join(f"{k}={value_text(values[k])}" for k in self.params) + "]"

    def allowed(self, values: Params) -> bool:
        return self.constraint is None or bool(self.constraint(dict(values)))

    def combinations(self) -> list[Params]:
        """Every combination of the grid that satisfies the constraint, in declaration order."""
        names = list(self.params)
        grid = (dict(zip(names, combo)) for combo in itertools.product(*self.params.values()))
        return [values for values in grid if self.allowed(values)]

    def sample(self, count: int, seed: int = 0) -> list[Params]:
        """``count`` distinct allowed combinations drawn at random (all of them when there are fewer)."""
        every = self.combinations()
        return every if count >= len(every) else random.Random(seed).sample(every, count)

    def parse(self, name: str) -> Params:
        """The parameter values of a canonical variant name; ``UnknownNameError`` says what is wrong."""
        match = _VARIANT.match(name)
        if match is None or match["base"] != self.strategy_name:
            raise UnknownNameError(f"strategy '{name}' not found")
        given = dict(part.split("=", 1) for part in match["body"].split(",") if "=" in part)
        values: Params = {}
        for param, declared in self.params.items():
            text = given.pop(param, None)
            found = [v for v in declared if value_text(v) == text]
            if not found:
                raise UnknownNameError(f"strategy '{name}': {param} must be one of "
                                       f"{[value_text(v) for v in declared]}, got {text!r}")
            values[param] = found[0]
        if given:
            raise UnknownNameError(f"strategy '{name}': unknown parameter {sorted(given)[0]!r}")
        if name != self.variant_name(values):
            raise UnknownNameError(f"strategy '{name}' not found; the variant is called '{self.variant_name(values)}'")
        if not self.allowed(values):
            raise UnknownNameError(f"strategy '{name}' is excluded by the constraint of '{self.strategy_name}'")
        return values

    def build(self, values: Params) -> StrategySchema:
        """The schema of one variant (``make`` called with a copy of its values)."""
        made = self.make(dict(values))
        form = {"get_signal": made} if callable(made) else dict(made) if isinstance(made, Mapping) else None
        if form is None or not set(form) <= {"get_signal", "get_signals", "lookback"}:
            raise SchemaValidationError(f"Invalid strategy:\nmake of '{self.strategy_name}' must return get_signal "
                                        f"or a mapping with get_signal or get_signals (and lookback), got {made!r}")
        shown = ", ".join(f"{k}={value_text(v)}" for k, v in values.items())
        note = f"{self.note} ({shown})" if self.note else shown
        return StrategySchema(self.variant_name(values), self.interval, form.get("get_signal"), self.risk_name,
                              self.risk_list, note, self.callbacks, form.get("get_signals"),
                              form.get("lookback", self.lookback))


def variant_base(name: str) -> str | None:
    """``sma`` for ``sma[fast=10,slow=40]``; ``None`` for a plain name."""
    match = _VARIANT.match(name)
    return match["base"] if match else None


def choose(family: StrategyFamily, search: str, samples: int | None, seed: int) -> list[Params]:
    """The combinations a sweep tries: the whole grid, or ``samples`` of it at random."""
    if search == "grid":
        return family.combinations()
    if search == "random":
        if not samples or samples < 1:
            raise ValueError(f"random search needs samples >= 1, got {samples!r}")
        return family.sample(samples, seed)
    raise ValueError(f"search must be 'grid' or 'random' (or 'optuna' in a sweep flow), got {search!r}")


def names(family: StrategyFamily, combos: Sequence[Params]) -> list[str]:
    return [family.variant_name(c) for c in combos]
