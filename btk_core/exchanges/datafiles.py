"""Candle files for the files exchange: download them from a ccxt exchange, and check what a folder holds.

``download_candles`` writes ``<directory>/<symbol>/<interval>.parquet`` (the layout ``add_files_exchange``
serves) page by page with explicit since/limit, saving after every ``chunk`` candles, and resumes after the
last candle a file already holds, so an interrupted download continues where it stopped. ``check_candle_files``
reports, per file, its range, the candles it holds, the steps missing between them (gaps), duplicated and
out-of-order times, times not aligned to the interval and defective candles (SPEC §2.7 B, per block).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..candle_store import find_defects
from ..candles import to_columns
from ..errors import CandleSourceUnusable
from ..intervals import CANDLE_INTERVAL_MS
from .ccxt import fetch_range
from .files import candle_path, load_columns, read_raw, write_candles


@dataclass(frozen=True)
class Downloaded:
    """One file written by ``download_candles``: how many candles it holds and how many were added."""

    symbol: str
    path: str
    candles: int
    added: int
    first: int | None
    last: int | None


def download_candles(exchange: Any, symbol: str, interval: str, since: int, directory: str | os.PathLike[str], *,
                     until: int | None = None, page_limit: int = 1000, chunk: int = 50_000, retries: int = 4,
                     backoff_s: float = 0.5, on_progress: Callable[[int, int], None] | None = None) -> Downloaded:
    """Download ``symbol``'s ``interval`` candles from ``since`` (ms) to ``until`` (default: now) into the files
    layout; resumes after the file's last candle. ``on_progress(done_ms, total_ms)`` follows the pages."""
    from .. import clock
    if interval not in CANDLE_INTERVAL_MS:
        raise ValueError(f"interval must be one of {list(CANDLE_INTERVAL_MS)}, got {interval!r}")
    step = CANDLE_INTERVAL_MS[interval]
    path = candle_path(directory, symbol, interval)
    held = load_columns(directory, symbol, interval) if path.is_file() else None
    end = until if until is not None else clock.now()
    start = since - since % step
    if held is not None and len(held[0]):
        start = max(start, int(held[0][-1]) + step)  # resume after the last candle the file holds
    parts: list[list[np.ndarray]] = [] if held is None else [list(held)]
    pending: list[list[Any]] = []
    added = 0

    def save() -> None:
        nonlocal pending, added
        if not pending:
            return
        cols = [np.asarray(c) for c in to_columns(pending)]
        parts.append(cols)
        added += len(pending)
        pending = []
        merged = [np.concatenate(c) for c in zip(*parts)]
        parts[:] = [merged]
        write_candles(directory, symbol, interval, dict(zip(("timestamp", "open", "high", "low", "close", "volume"),
                                                            merged)))

    def on_page(page: list[list[Any]]) -> None:
        pending.extend(page)
        if on_progress is not None:
            on_progress(int(page[-1][0]) + step - since, max(end - since, 1))
        if len(pending) >= chunk:
            save()

    if start < end:
        fetch_range(exchange, symbol, interval, start, end, page_limit=page_limit, retries=retries,
                    backoff_s=backoff_s, on_page=on_page)
    save()
    ts = parts[0][0] if parts else np.empty(0, np.int64)
    return Downloaded(symbol, str(path), len(ts), added, int(ts[0]) if len(ts) else None,
                      int(ts[-1]) if len(ts) else None)


@dataclass(frozen=True)
class DataFileCheck:
    """What ``check_candle_files`` found in one file; ``problem`` is set when the file cannot be used at all."""

    path: str
    interval: str
    candles: int = 0
    first: int | None = None
    last: int | None = None
    gaps: int = 0            # missing steps between the first and the last candle
    duplicates: int = 0
    out_of_order: int = 0
    unaligned: int = 0
    defects: int = 0
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not (self.problem or self.duplicates or self.out_of_order or self.unaligned or self.defects)


def check_candle_files(directory: str | os.PathLike[str], *, factor: int = 1000, min_for_median: int = 5,
                       block: int = 1000) -> list[DataFileCheck]:
    """Check every ``<symbol>/<interval>.parquet|csv`` under ``directory``."""
    out = []
    for path in sorted(Path(directory).glob("*/*")):
        interval = path.stem
        if path.suffix not in (".parquet", ".csv") or interval not in CANDLE_INTERVAL_MS or path.name.startswith("."):
            continue
        step = CANDLE_INTERVAL_MS[interval]
        try:
            raw = read_raw(path)
        except CandleSourceUnusable as exc:
            out.append(DataFileCheck(str(path), interval, problem=str(exc)))
            continue
        ts = raw[0]
        if not len(ts):
            out.append(DataFileCheck(str(path), interval, problem="no rows"))
            continue
        out_of_order = int((np.diff(ts) < 0).sum())
        order = np.argsort(ts, kind="stable")
        cols = [c[order] for c in raw]
        ts = cols[0]
        diffs = np.diff(ts)
        unique = np.unique(ts)
        aligned = unique[unique % step == 0]
        gaps = int(((aligned[-1] - aligned[0]) // step + 1) - len(aligned)) if len(aligned) else 0
        defects = 0
        keys = ts // (block * step)
        for lo, hi in zip(*_runs(keys)):
            reasons = find_defects(tuple(c[lo:hi] for c in cols), factor=factor,  # type: ignore[arg-type]
                                   min_for_median=min_for_median)
            defects += 0 if reasons is None else int((reasons != "").sum())
        out.append(DataFileCheck(str(path), interval, len(ts), int(ts[0]), int(ts[-1]), gaps, int((diffs == 0).sum()),
                             out_of_order, int((ts % step != 0).sum()), defects))
    return out


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end indexes of the runs of equal values in sorted ``keys``."""
    edges = np.flatnonzero(np.diff(keys)) + 1
    return np.concatenate(([0], edges)), np.concatenate((edges, [len(keys)]))
