"""A candle source backed by a directory of parquet or CSV files.

Layout: ``<directory>/<safe_name(symbol)>/<interval>.parquet`` (or ``.csv``) with the
columns ``timestamp, open, high, low, close, volume``. An interval without a file
is aggregated from the symbol's ``1m`` file when there is one. Files are read once
per process (re-read when their modification time changes).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..candles import FIELDS, Candles, Columns, freeze
from ..fmt import safe_name
from ..intervals import CANDLE_INTERVAL_MS
from ..registry import add_exchange
from ..schemas import ExchangeSchema
from .columns import answer, normalised
from .resample import aggregate

_SUFFIXES = (".parquet", ".csv")
_cache: dict[tuple[str, float], Columns] = {}
_cache_lock = threading.Lock()


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


def _read(path: Path) -> Columns:
    key = (str(path), path.stat().st_mtime)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        source = pq.ParquetFile(path)
        names = source.schema_arrow.names
        # one column at a time, kept as a read-only view of its arrow buffer: memory holds the data once
        read = lambda f: (source.read(columns=[f]).column(0).combine_chunks()  # noqa: E731
                          .to_numpy(zero_copy_only=False))
    else:
        import pyarrow.csv as pacsv
        table = pacsv.read_csv(path)
        names = table.column_names
        read = lambda f: table.column(f).to_numpy()  # noqa: E731
    missing = [f for f in FIELDS if f not in names]
    if missing:
        raise ValueError(f"{path} lacks column '{missing[0]}' (needs {list(FIELDS)})")
    cols = normalised([read(f) for f in FIELDS])
    with _cache_lock:
        _cache[key] = cols
    return cols


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
        raise FileNotFoundError(
            f"no candle file for symbol={symbol!r} interval={interval!r}: looked for "
            f"{candle_path(directory, symbol, interval)} (or .csv)"
            + ("" if interval == "1m" else " and a 1m file to aggregate from"))
    key = (f"{base}#{interval}", base.stat().st_mtime)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    cols = aggregate(_read(base), CANDLE_INTERVAL_MS[interval])
    freeze(*cols)
    with _cache_lock:
        _cache[key] = cols
    return cols


def add_files_exchange(exchange_name: str, directory: str | os.PathLike[str], *, note: str | None = None,
                       callbacks: object = None) -> ExchangeSchema:
    """Register a source that serves the candle files under ``directory``."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"candle directory {str(root)!r} does not exist")

    resolved: dict[tuple[str, str], tuple[float, Columns]] = {}

    def get_candles(symbol: str, interval: str, since: int, limit: int) -> Candles:
        # one stat of the directory per call instead of finding and stat-ing the files each block
        stamp = root.stat().st_mtime
        hit = resolved.get((symbol, interval))
        if hit is None or hit[0] != stamp:
            hit = resolved[(symbol, interval)] = (stamp, load_columns(root, symbol, interval))
        return answer(hit[1], since, limit)

    return add_exchange(exchange_name=exchange_name, get_candles=get_candles,
                        note=note or f"candle files in {root}", callbacks=callbacks)
