"""Batch signals: ``get_signals(symbol, candles) -> DataFrame`` read as a table of answers (SPEC §17.1 extension).

A batch strategy computes its signals for many decision times at once. The engine turns the returned
DataFrame into :class:`SignalTable` once, then runs the same state machine as ``get_signal``: at a due
step it asks the table for the row at that decision time instead of calling user code. Because the
table knows where the signals are, a backtest nobody observes jumps from one signal to the next.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .candles import Candles
from .errors import BtkError, wrap_user_error
from .events import emit_error
from .fmt import iso
from .intervals import INTERVAL_MS

BATCH_COLUMNS = ("position", "price_open", "price_take_profit", "price_stop_loss", "minute_estimated_time",
                 "note", "id")
_CHUNK = 64


class SignalTable:
    """Answers by decision time. A row indexed at ``t`` (a close time of the strategy's candles) is the
    answer at every step ``when`` with ``t <= when < t + interval``: the step sees exactly the candles
    ``t`` saw, like a ``get_signal`` that reads only its interval's candles."""

    __slots__ = ("times", "ordered", "answers", "interval_ms", "_rows", "_columns")

    def __init__(self, answers: Mapping[int, dict[str, Any]], interval_ms: int,
                 rows: dict[int, int] | None = None, columns: list[tuple[str, list[Any]]] | None = None) -> None:
        """``answers`` by decision time; or ``rows`` (decision time -> row number) over ``columns`` of Python
        values, each answer built when it is first asked for (a backtest asks for a fraction of the rows)."""
        self.answers = dict(answers)
        self._rows, self._columns = rows or {}, columns or []
        self.ordered = sorted(self._rows or self.answers)
        self.times = np.array(self.ordered, dtype=np.int64)
        self.interval_ms = interval_ms

    def answer(self, when: int) -> dict[str, Any] | None:
        t = when - when % self.interval_ms
        found = self.answers.get(t)
        if found is None and t in self._rows:
            found = self.answers[t] = _answer(self._columns, self._rows[t])
        return found

    def next_step(self, first: int, period: int) -> int | None:
        """The first of the due steps ``first + k * period`` that has an answer, or None."""
        interval = self.interval_ms
        times = self.times
        k = bisect_left(self.ordered, first - first % interval)
        if k < len(times):  # the usual case: the next row is seen by the next due step at or after it
            row = self.ordered[k]
            step = first if row <= first else first + -(-(row - first) // period) * period
            if step - step % interval == row:
                return step
        while k < len(times):
            rows = times[k:k + _CHUNK]
            steps = np.maximum(first + -(-(rows - first) // period) * period, first)
            hits = np.flatnonzero(steps - steps % interval == rows)
            if len(hits):
                return int(steps[hits[0]])
            k += _CHUNK
        return None


def _index_ms(frame: Any, where: str) -> np.ndarray:
    import pandas as pd
    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        return (index if index.tz is None else index.tz_convert("UTC")).as_unit("ms").asi8.astype(np.int64)
    values = np.asarray(index)
    if values.dtype.kind not in "iu":
        raise BtkError(f"{where}: the index must be decision times in integer ms or a DatetimeIndex, "
                       f"got {values.dtype}")
    return values.astype(np.int64)


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python value; NaN/None/NaT as None (the column is absent for that row)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def table_from_frame(frame: Any, interval_ms: int, where: str) -> SignalTable:
    """Validate a ``get_signals`` result and index its signal rows (rows whose position is empty are none)."""
    import pandas as pd
    if not isinstance(frame, pd.DataFrame):
        raise BtkError(f"{where} must return a pandas DataFrame, got {type(frame).__name__}")
    unknown = [c for c in frame.columns if c not in BATCH_COLUMNS]
    if unknown:
        raise BtkError(f"{where}: unknown column(s) {unknown}; allowed: {list(BATCH_COLUMNS)}")
    if "position" not in frame.columns:
        raise BtkError(f"{where}: the DataFrame needs a 'position' column")
    times = _index_ms(frame, where)
    if len(np.unique(times)) != len(times):
        raise BtkError(f"{where}: decision times in the index must be unique")
    misaligned = np.flatnonzero(times % interval_ms)
    if len(misaligned):
        raise BtkError(f"{where}: decision times must be close times of the strategy's candles (multiples of "
                       f"{interval_ms // 60_000} min), got {iso(int(times[misaligned[0]]))}")
    keep = np.flatnonzero([p is not None and p == p and p != "" for p in frame["position"].tolist()])
    rows = frame.iloc[keep]
    columns = [(name, rows[name].tolist()) for name in rows.columns]  # Python values, converted in C
    return SignalTable({}, interval_ms, rows={t: n for n, t in enumerate(times[keep].tolist())}, columns=columns)


def _answer(columns: list[tuple[str, list[Any]]], n: int) -> dict[str, Any]:
    """Row ``n`` of the table as ``get_signal`` would have answered it (absent values left out)."""
    row = {}
    for name, values in columns:
        value = _plain(values[n])
        if value is not None:  # a float column holds whole minutes as 120.0: give validation the int
            whole = name == "minute_estimated_time" and isinstance(value, float) and value.is_integer()
            row[name] = int(value) if whole else value
    return row


def compute_table(get_signals: Callable[..., Any], symbol: str, candles: Candles, *, interval_ms: int,
                  strategy_name: str) -> SignalTable:
    """Call ``get_signals`` and read its table; a failure is an error event and an empty table
    (the pair then never signals, like a ``get_signal`` that raises every time)."""
    where = f"get_signals of {strategy_name}"
    try:
        frame = get_signals(symbol, candles)
    except Exception as exc:
        emit_error(wrap_user_error(exc, where="get_signals", symbol=symbol, strategy_name=strategy_name))
        return SignalTable({}, interval_ms)
    try:
        return table_from_frame(frame, interval_ms, where)
    except BtkError as exc:
        emit_error(exc)
        return SignalTable({}, interval_ms)


def history(store: Any, symbol: str, strategy: Any, first: int, until: int) -> Candles:
    """The strategy interval's candles closed by ``until``, starting ``lookback`` candles before the first
    decision time ``first``: what ``get_signals`` receives (raises ``CandleDataError`` like the store)."""
    interval_ms = INTERVAL_MS[strategy.interval]
    t_from = first - first % interval_ms - strategy.lookback * interval_ms
    t_to = until - until % interval_ms
    store.prefetch(symbol, t_from, t_to, strategy.interval)
    cols = store.window(symbol, strategy.interval, t_from, t_to)
    return Candles.view(cols, 0, len(cols[0]))


def chain_period(interval_ms: int, step_ms: int) -> int | None:
    """Spacing of the due steps of a flat pair on a frame of ``step_ms``: every step when the strategy's
    interval divides it, every interval when the step divides the interval, else None (no shortcut)."""
    if interval_ms <= step_ms and step_ms % interval_ms == 0:
        return step_ms
    if interval_ms % step_ms == 0:
        return interval_ms
    return None
