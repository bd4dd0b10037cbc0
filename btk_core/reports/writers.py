"""Writing a report with its picture: the one path ``Backtest.dump``, ``Heat.dump``, ``Walker.dump`` and the
Prefect flows all take, so a flow's files equal the API's dump of the same run."""
from __future__ import annotations

from typing import Any

from ..fmt import safe_name
from ..stats import BacktestStatistics, HeatmapStatistics, Span
from .documents import backtest_report, heatmap_report, pair_file, walker_report
from .plots import equity_png, heatmap_png, walker_png
from .render import dump


def write_backtest(symbol: str, strategy_name: str, stats: BacktestStatistics, directory: str,
                   span: Span | None = None, warning: str | None = None) -> str:
    """``<directory>/<S>_<G>.md`` with the equity picture beside it (when there are trades; buy and hold drawn
    from ``span``); ``warning`` (a pair without data) heads the report. Returns the report's path."""
    text = backtest_report(strategy_name, stats)
    if warning:
        text = f"> **No data:** {warning}\n\n{text}"
    if stats.signal_list:
        trades = sorted(stats.signal_list, key=lambda c: c.close_timestamp)
        image = equity_png([c.close_timestamp for c in trades], [c.pnl.pnl_percentage for c in trades],
                           f"{strategy_name} on {symbol}", directory, pair_file(symbol, strategy_name)[:-3] + ".png",
                           span)
        text += f"\n\n![Compounded equity and drawdown of {strategy_name} on {symbol}]({image})"
    return dump(text, directory, pair_file(symbol, strategy_name))


def write_heatmap(strategy_name: str, stats: HeatmapStatistics, directory: str) -> str:
    """``<directory>/<G>.md`` with the heat map picture (when a symbol traded)."""
    stem = safe_name(strategy_name)
    image = heatmap_png(stats, directory, f"{stem}.png", strategy_name) if stats.rows else None
    return dump(heatmap_report(strategy_name, stats, image), directory, f"{stem}.md")


def write_walker(meta: dict[str, Any], strategies: list[dict[str, Any]], directory: str) -> str:
    """``<directory>/<S>_<walker>.md`` with the bar chart of the metric per strategy (when any has a value)."""
    stem = f"{safe_name(meta['symbol'])}_{safe_name(meta['walker_name'])}"
    image = walker_png([c["strategy"] for c in strategies], [c["metric_value"] for c in strategies], meta["metric"],
                       meta["best_strategy"], meta["symbol"], directory, f"{stem}.png") if strategies else None
    return dump(walker_report(meta, strategies, image), directory, f"{stem}.md")
