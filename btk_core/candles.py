"""Candles as data: ``Candle``, the read-only ``Candles`` view, and conversion of
whatever a user source returns into checked numpy columns (SPEC §2.1, §2.4, §2.7 A).

``Candles`` is a window ``[lo, hi)`` over shared read-only column arrays, so
``get_candles`` costs an index computation and no copy; a column attribute is a
numpy view made on access.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, overload

import numpy as np

FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV candle; ``timestamp`` is the open time in ms, it closes at ``timestamp + interval``."""

    timestamp: int
    open: float
    high: float
    low: float
    close: float
    volume: float


def freeze(*arrays: np.ndarray) -> None:
    """Make arrays read-only so views handed to user code cannot corrupt the store."""
    for a in arrays:
        a.flags.writeable = False


def empty_columns() -> Columns:
    cols = (np.empty(0, np.int64),) + tuple(np.empty(0, np.float64) for _ in range(5))
    freeze(*cols)
    return cols  # type: ignore[return-value]


class Candles(Sequence):
    """Read-only, ascending candles. Index or iterate for ``Candle`` objects; the
    attributes ``timestamp, open, high, low, close, volume`` are 1-D numpy arrays."""

    __slots__ = ("_cols", "_lo", "_hi")

    def __init__(self, timestamp: Any = (), open: Any = (), high: Any = (), low: Any = (),
                 close: Any = (), volume: Any = ()) -> None:
        cols = (np.array(timestamp, dtype=np.int64),) + tuple(
            np.array(x, dtype=np.float64) for x in (open, high, low, close, volume))
        if len({len(c) for c in cols}) != 1:
            raise ValueError("Candles columns must all have the same length")
        freeze(*cols)
        self._cols: Columns = cols  # type: ignore[assignment]  # six arrays, built above
        self._lo, self._hi = 0, len(cols[0])

    @classmethod
    def view(cls, cols: Columns, lo: int, hi: int) -> Candles:
        """A window over existing (read-only) columns, without copying."""
        obj = cls.__new__(cls)
        obj._cols, obj._lo, obj._hi = cols, lo, hi
        return obj

    @property
    def timestamp(self) -> np.ndarray:
        return self._cols[0][self._lo:self._hi]

    @property
    def open(self) -> np.ndarray:
        return self._cols[1][self._lo:self._hi]

    @property
    def high(self) -> np.ndarray:
        return self._cols[2][self._lo:self._hi]

    @property
    def low(self) -> np.ndarray:
        return self._cols[3][self._lo:self._hi]

    @property
    def close(self) -> np.ndarray:
        return self._cols[4][self._lo:self._hi]

    @property
    def volume(self) -> np.ndarray:
        return self._cols[5][self._lo:self._hi]

    def columns(self) -> Columns:
        """The six column views, in ``FIELDS`` order."""
        lo, hi = self._lo, self._hi
        return tuple(c[lo:hi] for c in self._cols)  # type: ignore[return-value]

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, i: int) -> Candle: ...
    @overload
    def __getitem__(self, i: slice) -> Candles: ...

    def __getitem__(self, i: int | slice) -> Candle | Candles:
        n = self._hi - self._lo
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                return Candles(*(c[self._lo:self._hi][i] for c in self._cols))
            return Candles.view(self._cols, self._lo + start, self._lo + max(start, stop))
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("candle index out of range")
        j = self._lo + i
        c = self._cols
        return Candle(int(c[0][j]), float(c[1][j]), float(c[2][j]), float(c[3][j]),
                      float(c[4][j]), float(c[5][j]))

    def __iter__(self) -> Iterator[Candle]:
        rows = zip(*(c[self._lo:self._hi].tolist() for c in self._cols))
        return (Candle(*row) for row in rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candles):
            return NotImplemented
        return len(self) == len(other) and all(
            np.array_equal(a, b) for a, b in zip(self.columns(), other.columns()))

    def __repr__(self) -> str:
        if not len(self):
            return "Candles([])"
        return f"Candles(n={len(self)}, first={self[0]}, last={self[-1]})"

    def to_frame(self) -> Any:
        """A pandas DataFrame with the six columns (pandas is imported on first use)."""
        import pandas as pd
        return pd.DataFrame({name: col.copy() for name, col in zip(FIELDS, self.columns())})


class ContractError(Exception):
    """The source broke the contract of SPEC §2.4; the message is the broken rule."""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


_NUMBER_TYPES = frozenset((int, float, np.int64, np.int32, np.float64, np.float32))
_row_of_mapping = itemgetter(*FIELDS)
_row_of_candle = attrgetter(*FIELDS)


def _fast_columns(items: Sequence[Any]) -> list[np.ndarray] | None:
    """The six columns of ``items`` in a few C-level passes when every item has the same shape (all 6-number
    sequences, all mappings or all ``Candle``) and every value is a plain int or float; else None, and the
    item-by-item path decides (and names the first offending item). Same values either way."""
    first = items[0]
    try:
        if isinstance(first, Candle):
            rows: Sequence[Any] = list(map(_row_of_candle, items))
        elif isinstance(first, Mapping):
            rows = list(map(_row_of_mapping, items))
        elif isinstance(first, (list, tuple)):
            if set(map(len, items)) != {6}:
                return None
            rows = items
        else:
            return None
    except (KeyError, TypeError, AttributeError):  # a different item somewhere: the slow path names it
        return None
    if not set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES:  # bool, str, None, ...: slow path
        return None
    flat = np.fromiter(chain.from_iterable(rows), np.float64, count=6 * len(rows)).reshape(len(rows), 6)
    return list(np.ascontiguousarray(flat.T))


def _rows_from_items(items: Sequence[Any]) -> list[tuple[Any, ...]]:
    rows = []
    for k, item in enumerate(items):
        if isinstance(item, Candle):
            rows.append((item.timestamp, item.open, item.high, item.low, item.close, item.volume))
            continue
        if isinstance(item, Mapping):
            missing = [f for f in FIELDS if f not in item]
            if missing:
                raise ContractError(f"candle {k} lacks field '{missing[0]}'")
            row = tuple(item[f] for f in FIELDS)
        elif isinstance(item, (Sequence, np.ndarray)) and not isinstance(item, (str, bytes)):
            if len(item) < 6:
                raise ContractError(f"candle {k} lacks field '{FIELDS[len(item)]}'")
            row = tuple(item[:6])
        else:
            raise ContractError(f"candle {k} is a {type(item).__name__}, not a Candle, mapping or sequence")
        for name, value in zip(FIELDS, row):
            if not _is_number(value):
                raise ContractError(f"candle {k} has a non-numeric {name}: {value!r}")
        rows.append(row)
    return rows


def _named_columns(names: Sequence[str], column: Any, what: str) -> list[np.ndarray]:
    """The six named columns of a table-like answer, each numeric."""
    missing = [f for f in FIELDS if f not in names]
    if missing:
        raise ContractError(f"{what} lacks column '{missing[0]}'")
    out = []
    for name in FIELDS:
        col = np.asarray(column(name))
        if col.dtype.kind not in "iuf":
            raise ContractError(f"{what} column '{name}' is not numeric (dtype {col.dtype})")
        out.append(col)
    return out


def to_columns(result: Any) -> list[np.ndarray]:
    """Convert any accepted source result to six raw columns (timestamps not yet checked): a sequence of
    ``Candle``, mappings or 6-number sequences, a DataFrame, a pyarrow Table, a numpy structured array or a
    2-D numeric array, or ``Candles``."""
    if isinstance(result, Candles):
        return list(result.columns())
    if hasattr(result, "columns") and hasattr(result, "to_numpy") and hasattr(result, "iloc"):
        return _named_columns(list(result.columns), lambda f: result[f].to_numpy(), "DataFrame")
    if hasattr(result, "column_names") and hasattr(result, "column"):  # a pyarrow Table
        return _named_columns(result.column_names, lambda f: result.column(f).to_numpy(), "Table")
    if isinstance(result, np.ndarray):
        if result.dtype.names is not None:
            return _named_columns(result.dtype.names, lambda f: result[f], "structured array")
        if result.ndim != 2 or result.shape[1] < 6 or result.dtype.kind not in "iuf":
            raise ContractError(f"array result must be numeric with 6 columns, got shape {result.shape}")
        return [result[:, k] for k in range(6)]
    if result is None or isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Sequence):
        raise ContractError(f"result must be a sequence of candles or a DataFrame, got {type(result).__name__}")
    if not result:
        return [np.empty(0)] * 6
    fast = _fast_columns(result)
    if fast is not None:
        return fast
    rows = _rows_from_items(result)
    return [np.array(col, dtype=np.float64) for col in zip(*rows)]


def checked_columns(result: Any, *, since: int, limit: int, interval_ms: int) -> Columns:
    """Columns of one source answer, checked against the contract (SPEC §2.7 A)."""
    raw = to_columns(result)
    n = len(raw[0])
    if n > limit:
        raise ContractError(f"returned {n} candles, more than limit={limit}")
    ts_raw = raw[0]
    if ts_raw.dtype.kind == "f":
        bad = ~np.isfinite(ts_raw) | (ts_raw != np.floor(ts_raw))
        if bad.any():
            k = int(bad.argmax())
            raise ContractError(f"candle {k} has a non-integral timestamp: {ts_raw[k]!r}")
    ts = ts_raw.astype(np.int64, copy=False)
    if n:
        below = ts < since
        if below.any():
            k = int(below.argmax())
            raise ContractError(f"candle {k} timestamp {int(ts[k])} < since={since}")
        unaligned = ts % interval_ms != 0
        if unaligned.any():
            k = int(unaligned.argmax())
            raise ContractError(f"candle {k} timestamp {int(ts[k])} is not aligned to {interval_ms} ms")
        if n > 1:
            steps = np.diff(ts) <= 0
            if steps.any():
                k = int(steps.argmax()) + 1
                raise ContractError(f"timestamps not strictly ascending at candle {k} "
                                    f"({int(ts[k])} after {int(ts[k - 1])})")
    values = [np.asarray(c, dtype=np.float64) for c in raw[1:]]
    return (ts, *values)  # type: ignore[return-value]

