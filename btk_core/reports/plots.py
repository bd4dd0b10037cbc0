"""Pictures for the reports where people would rather look than read: equity and drawdown of a
backtest, the heat map of a strategy's symbols, the walker's metric per strategy.

matplotlib is imported on first use with the non-interactive Agg backend, so nothing here
costs anything until a dump asks for a picture. Each function returns the file name, which
the markdown report links relative to itself.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, directory: str, file_name: str) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write(Path(directory) / file_name, buffer.getvalue())
    return file_name


def equity_png(times_ms: Sequence[int], pnls: Sequence[float], title: str, directory: str, file_name: str) -> str:
    """Cumulative PnL % over time with the drawdown below it."""
    import numpy as np
    plt = _pyplot()
    when = np.array(times_ms, dtype="datetime64[ms]")
    equity = np.cumsum(pnls)
    drawdown = equity - np.maximum.accumulate(np.maximum(equity, 0.0))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=(3, 1))
    top.plot(when, equity, drawstyle="steps-post", color="#1f77b4")
    top.axhline(0, color="grey", linewidth=0.8)
    top.set_ylabel("cumulative PnL %")
    top.set_title(title)
    bottom.fill_between(when, drawdown, 0, step="post", color="#d62728", alpha=0.5)
    bottom.set_ylabel("drawdown %")
    fig.autofmt_xdate()
    return _save(fig, directory, file_name)


def heatmap_png(stats: Any, directory: str, file_name: str) -> str:
    """Symbols x metrics, each column coloured on its own scale."""
    import numpy as np
    plt = _pyplot()
    columns = [("Total PNL %", "total_pnl"), ("Sharpe", "sharpe_ratio"), ("Win rate %", "win_rate"),
               ("Max DD %", "max_drawdown"), ("Trades", "total_trades")]
    sign = {"max_drawdown": -1.0}  # drawdowns print as losses (-x.xx%), so they colour red like the report
    values = np.array([[np.nan if getattr(r, attr) is None else sign.get(attr, 1.0) * float(getattr(r, attr))
                        for _, attr in columns] for r in stats.rows])
    span = np.nanmax(np.abs(values), axis=0, initial=0.0)
    scaled = np.divide(values, np.where(span == 0, 1.0, span))
    fig, ax = plt.subplots(figsize=(1.6 * len(columns) + 1, 0.5 * len(stats.rows) + 1.5))
    ax.imshow(np.nan_to_num(scaled), cmap="RdYlGn", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(columns)), [c for c, _ in columns])
    ax.set_yticks(range(len(stats.rows)), [r.symbol for r in stats.rows])
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, "N/A" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title("Portfolio heatmap")
    return _save(fig, directory, file_name)


def walker_png(names: Sequence[str], values: Sequence[float | None], metric: str, directory: str,
               file_name: str) -> str:
    """The walker's metric per strategy as bars (N/A strategies at 0, hatched)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names)), 3.5))
    heights = [v if v is not None else 0.0 for v in values]
    bars = ax.bar(names, heights, color=["#2ca02c" if v is not None and v >= 0 else "#d62728" for v in heights])
    for bar, v in zip(bars, values):
        if v is None:
            bar.set_hatch("//")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per strategy")
    return _save(fig, directory, file_name)
