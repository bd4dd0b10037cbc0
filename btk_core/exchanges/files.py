"""A candle source backed by a directory of parquet or CSV files.

Layout: ``<directory>/<safe_name(symbol)>/<interval>.parquet`` (or ``.csv``). An interval without a file
is aggregated from the symbol's ``1m`` file when there is one. Files are read once per process (re-read
when their modification time changes).

Columns are the files people export: names are matched without regard to case or surrounding blanks; the
time is the first of ``timestamp, date, datetime, time, open_time`` present, the prices ``open, high, low,
close`` and ``volume``. Times may be ISO-8601 text (read as UTC unless they carry an offset) or epoch
numbers whose unit is told by their magnitude (``time_unit``). A file that cannot be used raises
``CandleSourceUnusable`` with one line saying what was found, so the read fails at once.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..candles import FIELDS, Candles, Columns, freeze
from ..errors import CandleSourceUnusable
from ..fmt import readable_price, safe_name
from ..intervals import CANDLE_INTERVAL_MS
from ..registry import add_exchange
from ..schemas import ExchangeSchema
from .columns import answer, normalised
from .resample import aggregate

_SUFFIXES = (".parquet", ".csv")
#: Parsed files kept per process, by (path, modification time); the least recently used go first once the
#: columns held pass ``CACHE_LIMIT_BYTES``.
CACHE_LIMIT_BYTES = 2 * 1024**3
_cache: OrderedDict[tuple[str, float], Columns] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(key: tuple[str, float]) -> Columns | None:
    with _cache_lock:
        cols = _cache.get(key)
        if cols is not None:
            _cache.move_to_end(key)
        return cols


def _keep(key: tuple[str, float], cols: Columns) -> None:
    with _cache_lock:
        _cache[key] = cols
        stale = [k for k in _cache if k[0] == key[0] and k != key]  # older versions of the same file
        for k in stale:
            del _cache[k]
        while len(_cache) > 1 and sum(c.nbytes for v in _cache.values() for c in v) > CACHE_LIMIT_BYTES:
            _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every parsed file."""
    with _cache_lock:
        _cache.clear()


def candle_path(directory: str | os.PathLike[str], symbol: str, interval: str, suffix: str = ".parquet") -> Path:
    """Where the file of ``(symbol, interval)`` lives."""
    return Path(directory) / safe_name(symbol) / f"{interval}{suffix}"


def write_candles(directory: str | os.PathLike[str], symbol: str, interval: str, frame: Any,
                  fmt: str = "parquet") -> Path:
    """Write candles (a DataFrame, ``Candles`` or a mapping of columns) as the file of ``(symbol, interval)``."""
    import pyarrow as pa

    if interval not in CANDLE_INTERVAL_MS:
        raise ValueError(f"interval must be one of {list(CANDLE_INTERVAL_MS)}, got {interval!r}")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    if isinstance(frame, Candles):
        columns = dict(zip(FIELDS, frame.columns()))
    else:
        missing = [f for f in FIELDS if f not in frame]
        if missing:
            raise ValueError(f"candles to write lack column '{missing[0]}'")
        columns = {f: np.asarray(frame[f]) for f in FIELDS}
    table = pa.table({"timestamp": pa.array(np.asarray(columns["timestamp"], dtype=np.int64)),
                      **{f: pa.array(np.asarray(columns[f], dtype=np.float64)) for f in FIELDS[1:]}})
    path = candle_path(directory, symbol, interval, f".{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    if fmt == "parquet":
        import pyarrow.parquet as pq
        pq.write_table(table, tmp)
    else:
        import pyarrow.csv as pacsv
        pacsv.write_csv(table, tmp)
    os.replace(tmp, path)
    return path


TIME_ALIASES = ("timestamp", "date", "datetime", "time", "open_time")
PRICE_FIELDS = FIELDS[1:]
_UNITS = (("s", 1000.0), ("ms", 1.0), ("us", 1e-3), ("ns", 1e-6))


def time_unit(first: float) -> str:
    """The unit of epoch numbers, from the magnitude of the first one: below 1e11 seconds (up to the year
    5138), below 1e14 milliseconds (from 1973), below 1e17 microseconds, else nanoseconds."""
    magnitude = abs(first)
    return "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"


def epoch_ms(values: np.ndarray, path: Path, column: str) -> np.ndarray:
    """Integer milliseconds from a time column: datetimes, ISO-8601 text or epoch numbers of any unit."""
    if len(values) == 0:
        return np.empty(0, np.int64)
    if values.dtype.kind == "M":
        return values.astype("datetime64[ms]").astype(np.int64)
    if values.dtype.kind in "iuf":
        factor = dict(_UNITS)[time_unit(float(values[0]))]
        out = values.astype(np.float64) * factor if factor != 1.0 else values
        if not np.isfinite(np.asarray(out, dtype=np.float64)).all():
            raise CandleSourceUnusable(f"{path}: column '{column}' has empty or non-finite times")
        return np.rint(out).astype(np.int64) if factor != 1.0 else out.astype(np.int64)
    import pandas as pd
    try:
        parsed = pd.to_datetime(pd.Series(values), utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CandleSourceUnusable(f"{path}: cannot read the times of column '{column}' (first value "
                                   f"{values[0]!r}): {reason}") from None
    if parsed.isna().any():
        raise CandleSourceUnusable(f"{path}: column '{column}' has empty times (row {int(parsed.isna().argmax())})")
    return parsed.dt.tz_localize(None).to_numpy().astype("datetime64[ms]").astype(np.int64)


def file_columns(names: list[str], read: Any, path: Path) -> Columns:
    """The six columns of a file whose columns are ``names`` (``read(name)`` gives one as numpy), in time order."""
    return normalised(raw_file_columns(names, read, path))


def raw_file_columns(names: list[str], read: Any, path: Path) -> list[np.ndarray]:
    """The six columns as the file holds them (rows in file order), times in ms."""
    by_key = {name.strip().lower(): name for name in names}
    time_name = next((by_key[a] for a in TIME_ALIASES if a in by_key), None)
    found = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
    if time_name is None:
        raise CandleSourceUnusable(f"{path} lacks column 'timestamp' (nor {', '.join(TIME_ALIASES[1:])}, in any case; "
                                   f"found {found})")
    missing = [f for f in PRICE_FIELDS if f not in by_key]
    if missing:
        raise CandleSourceUnusable(f"{path} lacks column '{missing[0]}' (found {found})")
    values = []
    for field in PRICE_FIELDS:
        col = np.asarray(read(by_key[field]))
        if col.dtype.kind not in "iuf":
            raise CandleSourceUnusable(f"{path}: column '{by_key[field]}' is not numeric (first value {col[0]!r})")
        values.append(col)
    return [epoch_ms(np.asarray(read(time_name)), path, time_name), *values]


def _read(path: Path) -> Columns:
    key = (str(path), path.stat().st_mtime)
    cols = _cached(key)
    if cols is None:
        cols = file_columns(*_open(path), path)
        _keep(key, cols)
    return cols


def read_raw(path: Path) -> list[np.ndarray]:
    """A candle file's six columns in file order (``btk data check`` looks at duplicates and order)."""
    return raw_file_columns(*_open(path), path)


def _open(path: Path) -> tuple[list[str], Any]:
    """The column names of a parquet or CSV file and a function reading one column as numpy."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        source = pq.ParquetFile(path)
        names = source.schema_arrow.names
        # one column at a time, kept as a read-only view of its arrow buffer: memory holds the data once
        read = lambda f: (source.read(columns=[f]).column(0).combine_chunks()
                          .to_numpy(zero_copy_only=False))
    else:
        import pyarrow.csv as pacsv
        try:
            table = pacsv.read_csv(path)
        except Exception as exc:  # pyarrow.ArrowInvalid and the like: not a CSV we can read
            raise CandleSourceUnusable(f"{path}: not a readable CSV ({type(exc).__name__}: {exc})") from None
        names = table.column_names
        read = lambda f: table.column(f).to_numpy()
    return names, read


_digests: dict[tuple[str, int, float], str] = {}


def file_digest(path: Path) -> str:
    """``<size>:<mtime>:<sha256 of the bytes>``, the hash computed once per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    if key not in _digests:
        import hashlib
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _digests[key] = digest.hexdigest()
    return f"{stat.st_size}:{stat.st_mtime}:{_digests[key]}"


def _find(directory: Path, symbol: str, interval: str) -> Path | None:
    for suffix in _SUFFIXES:
        path = candle_path(directory, symbol, interval, suffix)
        if path.is_file():
            return path
    return None


def load_columns(directory: str | os.PathLike[str], symbol: str, interval: str) -> Columns:
    """Every candle of ``(symbol, interval)`` in the directory (aggregated from 1m when needed)."""
    directory = Path(directory)
    path = _find(directory, symbol, interval)
    if path is not None:
        return _read(path)
    base = _find(directory, symbol, "1m") if interval != "1m" else None
    if base is None:
        raise CandleSourceUnusable(
            f"no candle file for symbol={symbol!r} interval={interval!r}: looked for "
            f"{candle_path(directory, symbol, interval)} (or .csv)"
            + ("" if interval == "1m" else " and a 1m file to aggregate from"))
    key = (f"{base}#{interval}", base.stat().st_mtime)
    cols = _cached(key)
    if cols is None:
        cols = aggregate(_read(base), CANDLE_INTERVAL_MS[interval])
        freeze(*cols)
        _keep(key, cols)
    return cols


def add_files_exchange(exchange_name: str, directory: str | os.PathLike[str], *, note: str | None = None,
                       callbacks: object = None) -> ExchangeSchema:
    """Register a source that serves the candle files under ``directory``."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"candle directory {str(root)!r} does not exist")

    def get_candles(symbol: str, interval: str, since: int, limit: int) -> Candles:
        # the file is found and stat-ed on every call (a few microseconds): a file rewritten in place is read
        # again at once (the folder's own time does not change when a file inside it is overwritten)
        return answer(load_columns(root, symbol, interval), since, limit)

    def fingerprint(symbol: str, interval: str, start: int, end: int) -> str:
        """Size, modification time and content hash of the file serving ``(symbol, interval)`` (or the 1m file it
        is aggregated from)."""
        path = _find(root, symbol, interval) or _find(root, symbol, "1m")
        return "files:none" if path is None else f"files:{file_digest(path)}"

    return add_exchange(exchange_name=exchange_name, get_candles=get_candles, format_price=readable_price,
                        note=note or f"candle files in {root}", callbacks=callbacks, fingerprint=fingerprint)
