"""Pictures for the reports where people would rather look than read: the compounded equity and drawdown of a
backtest beside buy and hold, the heat map of a strategy's symbols, the walker's metric per strategy.

matplotlib is imported on first use with the non-interactive Agg backend, so nothing here costs anything
until a dump asks for a picture. Each function returns the file name, which the markdown report links
relative to itself (the flows embed the file in their artifacts). Colours encode good and bad honestly:
a diverging scale centred on zero (or on 50 % for a win rate) and no colour at all for counts.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..stats import Span

#: Figures are small on purpose: the flows inline them as ``data:`` URIs in Prefect artifacts.
DPI = 90
GOOD, BAD, NEUTRAL = "#2ca02c", "#d62728", "#7f7f7f"


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, directory: str, file_name: str) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    atomic_write(Path(directory) / file_name, buffer.getvalue())
    return file_name


def compounded_curve(pnls: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``(equity %, drawdown %)`` after each trade and before the first: the equity ``prod(1 + p/100)`` as a
    return in percent, and its fall from the running peak in percent of that peak (0 .. -100)."""
    growth = np.cumprod(np.concatenate(([1.0], 1.0 + np.asarray(pnls, dtype=float) / 100.0)))
    peak = np.maximum.accumulate(growth)
    return (growth - 1.0) * 100.0, (growth / peak - 1.0) * 100.0


def equity_png(close_times_ms: Sequence[int], pnls: Sequence[float], title: str, directory: str, file_name: str,
               span: Span | None = None) -> str:
    """The compounded equity after each close (one position at a time, full reinvestment) with buy and hold
    over the same frame, and the equity's drawdown below it; never below -100 %."""
    plt = _pyplot()
    start = span.start if span is not None else (close_times_ms[0] if close_times_ms else 0)
    when = np.array([start, *close_times_ms], dtype="datetime64[ms]")
    equity, drawdown = compounded_curve(pnls)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.2), sharex=True, height_ratios=(3, 1))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.93, bottom=0.1, hspace=0.08)  # fixed: a layout engine
    # would draw the figure twice
    top.plot(when, equity, drawstyle="steps-post", color="#1f77b4", label="strategy (compounded)")
    benchmark = span.benchmark if span is not None else ()
    if benchmark and span is not None and span.first_close:
        times, closes = zip(*benchmark)
        top.plot(np.array(times, dtype="datetime64[ms]"), (np.array(closes) / span.first_close - 1) * 100,
                 color=NEUTRAL, linewidth=0.9, linestyle="--", label="buy and hold")
    top.axhline(0, color="grey", linewidth=0.6)
    top.set_ylabel("return %")
    top.legend(loc="upper left", fontsize=8, frameon=False)
    top.set_title(title, fontsize=10)
    bottom.fill_between(when, drawdown, 0, step="post", color=BAD, alpha=0.5)
    bottom.set_ylim(max(-100.0, min(-1.0, float(drawdown.min()) * 1.1)), 0)
    bottom.set_ylabel("drawdown %")
    _date_ticks(bottom, int(when[0].astype("int64")), int(max(when[-1].astype("int64"), span.end if span else 0)))
    top.yaxis.set_major_locator(_few_ticks(5))
    bottom.yaxis.set_major_locator(_few_ticks(2))
    return _save(fig, directory, file_name)


def _few_ticks(count: int) -> Any:
    from matplotlib.ticker import MaxNLocator
    return MaxNLocator(count)


def _date_ticks(ax: Any, start_ms: int, end_ms: int, count: int = 5) -> None:
    """A handful of fixed date ticks: matplotlib's automatic date locator costs most of a chart's time."""
    stamps = np.linspace(start_ms, max(end_ms, start_ms + 1), count).astype("int64")
    days = (end_ms - start_ms) >= 3 * 86_400_000
    labels = [str(np.datetime64(int(t), "ms"))[:10 if days else 16].replace("T", " ") for t in stamps]
    ax.set_xticks(stamps.astype("datetime64[ms]"), labels, fontsize=8)


#: Heatmap columns: (label, attribute, centre of the diverging scale or None for no colour, digits).
HEAT_COLUMNS: tuple[tuple[str, str, float | None, int], ...] = (
    ("Compounded %", "compounded_return", 0.0, 2),
    ("Max DD %", "compounded_max_drawdown", 0.0, 2),
    ("Sharpe", "sharpe_ratio", 0.0, 2),
    ("Expectancy %", "expectancy", 0.0, 3),
    ("Win rate %", "win_rate", 50.0, 1),
    ("Trades", "total_trades", None, 0),
)


def heatmap_png(stats: Any, directory: str, file_name: str, strategy_name: str) -> str:
    """Symbols x metrics. Each coloured column has its own diverging scale centred on its neutral value (red
    worse, green better, white neutral); drawdowns colour as losses; trade counts are not coloured."""
    plt = _pyplot()
    from matplotlib import colormaps
    cmap = colormaps["RdYlGn"]
    rows = stats.rows
    colours = np.ones((len(rows), len(HEAT_COLUMNS), 4))
    fig, ax = plt.subplots(figsize=(1.35 * len(HEAT_COLUMNS) + 1, 0.42 * len(rows) + 1.3), layout="constrained")
    for j, (_, attr, centre, digits) in enumerate(HEAT_COLUMNS):
        values = [getattr(r, attr) for r in rows]
        if centre is not None:
            signed = np.array([np.nan if v is None else (-v if attr == "compounded_max_drawdown" else v) - centre
                               for v in values], dtype=float)
            reach = float(np.nanmax(np.abs(signed))) if not np.all(np.isnan(signed)) else 0.0
            for i, v in enumerate(signed):
                shade = 0.5 + 0.45 * (v / reach if reach else 0.0)
                colours[i, j] = (0.9, 0.9, 0.9, 1.0) if np.isnan(v) else cmap(shade)
        for i, v in enumerate(values):
            text = "N/A" if v is None else (f"{int(v)}" if digits == 0 else f"{v:.{digits}f}")
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.imshow(colours, aspect="auto")
    ax.set_xticks(range(len(HEAT_COLUMNS)), [c[0] for c in HEAT_COLUMNS], fontsize=8)
    ax.set_yticks(range(len(rows)), [r.symbol for r in rows], fontsize=8)
    ax.set_title(f"Portfolio heatmap: {strategy_name}", fontsize=10)
    return _save(fig, directory, file_name)


def metric_label(metric: str) -> str:
    """``sharpe_ratio`` -> ``Sharpe ratio`` for titles and axes."""
    return metric.replace("_", " ").capitalize()


def walker_png(names: Sequence[str], values: Sequence[float | None], metric: str, best: str | None, where: str,
               directory: str, file_name: str) -> str | None:
    """The walker's metric per strategy as bars, the best one outlined and named in the title; strategies
    without a value (no trades) are listed under the axis. ``None`` (no picture) when no strategy has one."""
    if all(v is None for v in values):
        return None
    plt = _pyplot()
    shown = [(n, v) for n, v in zip(names, values) if v is not None]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(shown) + 1), 3.2), layout="constrained")
    bars = ax.bar([n for n, _ in shown], [v for _, v in shown],
                  color=[GOOD if v >= 0 else BAD for _, v in shown])
    for bar, (name, _) in zip(bars, shown):
        if name == best:
            bar.set_edgecolor("black")
            bar.set_linewidth(2)
            ax.annotate("best", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                        va="bottom" if bar.get_height() >= 0 else "top", fontsize=8, fontweight="bold")
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_ylabel(metric_label(metric))
    missing = [n for n, v in zip(names, values) if v is None]
    if missing:
        ax.set_xlabel("no value (no trades): " + ", ".join(missing), fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(f"{metric_label(metric)} on {where}: best {best or 'N/A'}", fontsize=10)
    return _save(fig, directory, file_name)


def sweep_heatmap_png(summary: Any, directory: str, file_name: str) -> str | None:
    """The sweep's metric over two parameters (averaged over the other parameters and the symbols), on a
    diverging scale centred on 0, the best cell outlined; ``None`` without two varying parameters or values."""
    from ..reports.documents import sweep_axes
    axes = sweep_axes(summary)
    if len(axes) < 2:
        return None
    x_name, y_name = axes
    xs, ys = summary["params"][x_name], summary["params"][y_name]
    cells: dict[tuple[int, int], list[float]] = {}
    for r in summary["ranking"]:
        if r["metric"] is not None:
            cells.setdefault((xs.index(r["params"][x_name]), ys.index(r["params"][y_name])), []).append(r["metric"])
    if not cells:
        return None
    grid = np.full((len(ys), len(xs)), np.nan)
    for (i, j), values in cells.items():
        grid[j, i] = float(np.mean(values))
    plt = _pyplot()
    reach = float(np.nanmax(np.abs(grid))) or 1.0
    fig, ax = plt.subplots(figsize=(1.1 * len(xs) + 2.2, 0.6 * len(ys) + 1.6), layout="constrained")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn", vmin=-reach, vmax=reach, aspect="auto", origin="lower")
    best = np.unravel_index(np.nanargmax(grid), grid.shape)
    for j in range(len(ys)):
        for i in range(len(xs)):
            text = "excluded" if np.isnan(grid[j, i]) else f"{grid[j, i]:.2f}"
            ax.text(i, j, text, ha="center", va="center", fontsize=8,
                    fontweight="bold" if (j, i) == best else "normal")
    ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    ax.set_xticks(range(len(xs)), [str(x) for x in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=8)
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    fig.colorbar(image, ax=ax, shrink=0.8).set_label(metric_label(summary["metric"]) + " (mean)")
    ax.set_title(f"{summary['strategy']}: {metric_label(summary['metric'])} by {x_name} and {y_name}", fontsize=10)
    return _save(fig, directory, file_name)
