"""What an orchestrator (the Prefect flows, a scheduler of your own) needs beyond ``btk_core``'s trading API.

Flows are thin recipes over the engine (SPEC §18): they take names, rebuild the registry from a setup in
any worker, run the public API and write reports. This module is the one place they reach for anything
else, so the engine's private modules can change without breaking them. ``flows/`` and ``deployments/``
import only ``btk_core``, ``btk_core.exchanges[.ccxt]``, ``btk_core.persist[.sqlite, .redis]`` and this
module — an import-linter contract (``make lint``) keeps it that way.
"""
from __future__ import annotations

from . import clock
from .atomic import atomic_write
from .errors import AlreadyRunningError, BtkError, UnknownNameError
from .exchanges.datafiles import DataFileCheck, Downloaded, check_candle_files, download_candles
from .fmt import describe_result, iso, safe_name, to_ms
from .intervals import CANDLE_INTERVAL_MS, INTERVAL_MS
from .modes.walker import best_by_metric, finite
from .optimizer.llm import OllamaUnreachableError, check_ollama
from .params import choose
from .persist.lock import PairLock
from .registry import lookup, lookup_family
from .reports.documents import pair_file, portfolio_note, sweep_report, walk_forward_report
from .reports.plots import sweep_heatmap_png
from .reports.render import dump
from .reports.writers import write_backtest, write_heatmap, write_walker
from .schemas import WALKER_METRICS
from .stats import Span, backtest_statistics, heatmap_statistics
from .walkforward import daily_rate, efficiency_ratio
from .walkforward import windows as walk_forward_windows

#: The statistics of a backtest that flows pass around and rank by (SPEC §13.1).
STAT_FIELDS = ("total_signals", "win_count", "loss_count", "win_rate", "avg_pnl", "total_pnl", "std_dev",
               "sharpe_ratio", "annualized_sharpe_ratio", "certainty_ratio", "expected_yearly_returns",
               # SPEC §20.4: what a trader reads first
               "compounded_return", "max_drawdown", "profit_factor", "avg_win", "avg_loss", "expectancy",
               "avg_duration_minutes", "exposure", "cagr", "daily_sharpe", "sortino", "calmar", "buy_and_hold_return")


def data_fingerprint(symbols: list[str], intervals: list[str], exchange_name: str, frame_name: str) -> str | None:
    """What the exchange says about the candles of ``symbols`` x ``intervals`` over the frame, or ``None`` when the
    exchange has no ``fingerprint`` (its results cannot be cached: nothing would tell when its data changed)."""
    exchange, frame = lookup("exchange", exchange_name), lookup("frame", frame_name)
    if exchange.fingerprint is None:
        return None
    parts = [f"{s}/{i}={exchange.fingerprint(s, i, frame.start_ms, frame.end_ms)}"
             for s in sorted(set(symbols)) for i in sorted(set(intervals))]
    return "|".join(parts)


def now_ms() -> int:
    """The engine's clock (``set_clock`` in tests), in ms."""
    return clock.now()


__all__ = [
    "AlreadyRunningError", "BtkError", "CANDLE_INTERVAL_MS", "DataFileCheck", "Downloaded", "OllamaUnreachableError",
    "PairLock", "STAT_FIELDS", "check_ollama",
    "Span", "data_fingerprint",
    "UnknownNameError", "WALKER_METRICS", "atomic_write", "backtest_statistics", "best_by_metric",
    "check_candle_files", "describe_result", "download_candles", "dump", "finite", "heatmap_statistics", "iso",
    "lookup", "now_ms", "pair_file", "portfolio_note", "safe_name", "to_ms", "write_backtest", "write_heatmap",
    "write_walker", "choose", "lookup_family", "sweep_report", "sweep_heatmap_png", "INTERVAL_MS", "daily_rate",
    "efficiency_ratio", "walk_forward_windows", "walk_forward_report",
]
