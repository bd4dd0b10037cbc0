"""The report documents of SPEC §14: each function gathers its rows and renders its template."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import config
from ..errors import BtkError
from ..fmt import iso, minutes, num, pct, price, safe_name
from ..registry import lookup
from ..stats import (
    BacktestStatistics,
    HeatmapStatistics,
    LiveStatistics,
    PartialStatistics,
    PerformanceStatistics,
    RiskStatistics,
    ScheduleStatistics,
)
from .render import fixed, render


def _show_note() -> bool:
    return bool(config.value("CC_REPORT_SHOW_SIGNAL_NOTE"))


def _with_note(headers: list[str], after: str) -> list[str]:
    """Insert the Note column after ``after`` only when ``CC_REPORT_SHOW_SIGNAL_NOTE`` is on."""
    if not _show_note():
        return headers
    i = headers.index(after) + 1
    return headers[:i] + ["Note"] + headers[i:]


def _note(row: list[Any], signal: Any, at: int) -> list[Any]:
    """``row`` with the signal's note inserted at ``at`` when notes are shown (N/A without a signal)."""
    return row[:at] + [signal.note if signal else None] + row[at:] if _show_note() else row


def _prices(exchange_name: str, symbol: str) -> Callable[[float | None], str]:
    """How the reports print this symbol's prices (SPEC §20.5): the exchange's ``format_price`` when it has one,
    ``price`` (8 decimals and the currency) otherwise, or when the formatter fails."""
    try:
        formatter = lookup("exchange", exchange_name).format_price
    except BtkError:
        formatter = None
    if formatter is None:
        return price

    def formatted(x: float | None) -> str:
        if x is None:
            return price(x)
        try:
            return str(formatter(symbol, x))
        except Exception:  # a broken formatter must not cost the report
            return price(x)
    return formatted


def short_id(signal_id: str | None) -> str | None:
    """Signal ids in tables: their first 8 characters (SPEC §20.5); the full id is in the signal's dumps."""
    return None if signal_id is None else signal_id[:8]


def pair_file(symbol: str, strategy_name: str) -> str:
    return f"{safe_name(symbol)}_{safe_name(strategy_name)}.md"


def backtest_report(strategy_name: str, stats: BacktestStatistics) -> str:
    headers = _with_note(["Signal ID", "Symbol", "Position", "Open Price", "Close Price", "Take Profit",
                          "Stop Loss", "PNL (net)", "Close Reason", "Duration (min)", "Open Time", "Close Time"],
                         "Position")
    rows = []
    for r in stats.signal_list:
        s, price = r.signal, _prices(r.exchange_name, r.symbol)
        rows.append(_note([short_id(s.id), r.symbol, s.position.upper(), price(s.price_open), price(r.pnl.price_close),
                           price(s.price_take_profit), price(s.price_stop_loss), pct(r.pnl.pnl_percentage),
                           r.close_reason, minutes(s.pending_at, r.close_timestamp), iso(s.pending_at),
                           iso(r.close_timestamp)], s, 3))
    return render("backtest.md.j2", strategy_name=strategy_name, headers=headers, rows=rows, stats=stats)


def live_report(strategy_name: str, stats: LiveStatistics) -> str:
    headers = _with_note(["Timestamp", "Action", "Symbol", "Signal ID", "Position", "Current Price", "Open Price",
                          "Take Profit", "Stop Loss", "% to TP", "% to SL", "PNL (net)", "Close Reason",
                          "Duration (min)"], "Position")
    rows = []
    for e in stats.event_list:
        s, price = e.signal, _prices(e.exchange_name, e.symbol)
        active = e.action == "active"
        reason = e.close_reason if e.action == "closed" else e.reason if e.action == "cancelled" else None
        if e.action == "closed":
            duration = minutes(s.pending_at, e.close_timestamp)
        elif e.action == "cancelled":
            duration = minutes(s.scheduled_at, e.close_timestamp)
        else:
            duration = None
        row = [iso(e.timestamp), e.action.upper(), e.symbol, short_id(s.id) if s else None,
               s.position.upper() if s else None,
               price(e.current_price), price(s.price_open) if s else None, price(s.price_take_profit) if s else None,
               price(s.price_stop_loss) if s else None, fixed(e.percent_tp, 2, "%") if active else None,
               fixed(e.percent_sl, 2, "%") if active else None,
               pct(e.pnl.pnl_percentage) if e.action == "closed" else None, reason, duration]
        rows.append(_note(row, s, 5))
    return render("live.md.j2", strategy_name=strategy_name, headers=headers, rows=rows, stats=stats)


def schedule_report(strategy_name: str, stats: ScheduleStatistics, seen: int | None = None) -> str:
    headers = _with_note(["Timestamp", "Action", "Symbol", "Signal ID", "Position", "Current Price",
                          "Entry Price", "Take Profit", "Stop Loss", "Wait Time (min)", "Cancel Reason",
                          "Cancel ID"], "Position")
    rows = []
    for e in stats.event_list:
        s, price = e.signal, _prices(e.exchange_name, e.symbol)
        if e.action == "opened":
            wait = minutes(s.scheduled_at, s.pending_at)
        elif e.action == "cancelled":
            wait = minutes(s.scheduled_at, e.close_timestamp)
        else:
            wait = None
        rows.append(_note([iso(e.timestamp), e.action.upper(), e.symbol, short_id(s.id), s.position.upper(),
                           price(e.current_price), price(s.price_open), price(s.price_take_profit),
                           price(s.price_stop_loss), wait, e.reason.upper() if e.action == "cancelled" else None,
                           e.cancel_id if e.action == "cancelled" else None], s, 5))
    return render("schedule.md.j2", strategy_name=strategy_name, headers=headers, rows=rows, stats=stats,
                  seen=seen)


def heatmap_report(strategy_name: str, stats: HeatmapStatistics, image: str | None = None) -> str:
    headers = ["Symbol", "Total PNL", "Sharpe", "PF", "Expect", "WR", "Avg Win", "Avg Loss", "Max DD",
               "W Streak", "L Streak", "Trades"]
    rows = [[r.symbol, pct(r.total_pnl), fixed(r.sharpe_ratio), fixed(r.profit_factor), pct(r.expectancy),
             fixed(r.win_rate, 1, "%"), pct(r.avg_win), pct(r.avg_loss),
             "N/A" if r.max_drawdown is None else ("0.00%" if r.max_drawdown == 0 else f"-{r.max_drawdown:.2f}%"),
             r.max_win_streak, r.max_loss_streak, r.total_trades] for r in stats.rows]
    return render("heatmap.md.j2", strategy_name=strategy_name, headers=headers, rows=rows, stats=stats,
                  image=image)


def partial_report(symbol: str, strategy_name: str, stats: PartialStatistics, seen: int | None = None) -> str:
    headers = ["Action", "Symbol", "Strategy", "Signal ID", "Position", "Level %", "Current Price", "Timestamp",
               "Mode"]
    rows = [[e.kind.upper(), e.symbol, e.strategy_name, short_id(e.signal.id), e.signal.position.upper(),
             f"{'+' if e.kind == 'profit' else '-'}{num(e.level)}%",
             _prices(e.exchange_name, e.symbol)(e.current_price), iso(e.timestamp),
             "Backtest" if e.backtest else "Live"] for e in stats.event_list]
    return render("partial.md.j2", symbol=symbol, strategy_name=strategy_name, headers=headers, rows=rows,
                  stats=stats, seen=seen)


def risk_report(symbol: str, strategy_name: str, stats: RiskStatistics) -> str:
    headers = _with_note(["Symbol", "Strategy", "Signal ID", "Position", "Exchange", "Open Price", "Take Profit",
                          "Stop Loss", "Current Price", "Active Positions", "Risk", "ID", "Rejection Reason",
                          "Timestamp"], "Signal ID")
    rows = []
    for e in stats.event_list:
        s, price = e.pending_signal, _prices(e.exchange_name, e.symbol)
        rows.append(_note([e.symbol, e.strategy_name, short_id(s.id), s.position.upper(), e.exchange_name,
                           price(s.price_open), price(s.price_take_profit), price(s.price_stop_loss),
                           price(e.current_price), e.active_position_count, e.risk_name, e.rejection_id,
                           e.rejection_note, iso(e.timestamp)], s, 3))
    return render("risk.md.j2", symbol=symbol, strategy_name=strategy_name, headers=headers, rows=rows,
                  stats=stats)


def performance_report(stats: PerformanceStatistics, seen: int | None = None) -> str:
    headers = ["Metric Type", "Count", "Total (ms)", "Avg (ms)", "Min (ms)", "Max (ms)", "Std Dev (ms)",
               "Median (ms)", "P95 (ms)", "P99 (ms)", "Avg Wait (ms)", "Min Wait (ms)", "Max Wait (ms)"]
    ordered = sorted(stats.metric_stats.values(), key=lambda m: -m.total_duration)
    rows = [[m.metric_type, m.count, fixed(m.total_duration), fixed(m.avg_duration), fixed(m.min_duration),
             fixed(m.max_duration), fixed(m.std_dev), fixed(m.median), fixed(m.p95), fixed(m.p99),
             fixed(m.avg_wait_time), fixed(m.min_wait_time), fixed(m.max_wait_time)] for m in ordered]
    total = execution_time(stats)
    share = {m.metric_type: (m.total_duration / total * 100 if total else 0.0) for m in ordered}
    return render("performance.md.j2", strategy_name=stats.strategy_name, headers=headers, rows=rows,
                  stats=stats, ordered=ordered, share=share, seen=seen, total=total,
                  nested=sorted(set(stats.metric_stats) - set(_OUTER_METRICS)))


#: Metric types that time a whole run or tick; the others (``backtest_timeframe``, ``backtest_signal``) are
#: parts of a ``backtest_total`` and must not be added to it.
_OUTER_METRICS = ("backtest_total", "live_tick")


def execution_time(stats: PerformanceStatistics) -> float:
    """The time the recorded runs took: their ``backtest_total`` and ``live_tick`` timings; the sum of every
    timing only when no outer one was recorded (a list cut before its run's total)."""
    outer = [stats.metric_stats[k].total_duration for k in _OUTER_METRICS if k in stats.metric_stats]
    return sum(outer) if outer else stats.total_duration


def walker_rows(results: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``Walker`` results as the plain rows ``walker_report`` renders (the flows build the same rows)."""
    complete = results.complete
    first = complete or results.strategies[0]
    best = complete or results.strategies[-1]  # a walker still running: the best so far
    meta = {"walker_name": first.walker_name, "symbol": first.symbol, "exchange_name": first.exchange_name,
            "frame_name": first.frame_name, "metric": first.metric,
            "best_strategy": best.best_strategy, "best_metric": best.best_metric,
            "notes": [alone_note(c.strategy_name, first.symbol) for c in results.strategies
                      if lookup("strategy", c.strategy_name).risk_names]}
    strategies = []
    for c in results.strategies:
        s = c.stats
        strategies.append({
            "strategy": c.strategy_name, "metric_value": c.metric_value,
            "stats": {f: getattr(s, f) for f in ("total_signals", "win_rate", "avg_pnl", "total_pnl", "sharpe_ratio",
                                                  "std_dev")},
            "signals": [{"id": r.signal.id, "symbol": r.symbol, "position": r.signal.position,
                         "pnl": r.pnl.pnl_percentage, "close_reason": r.close_reason,
                         "pending_at": r.signal.pending_at, "close_timestamp": r.close_timestamp}
                        for r in s.signal_list]})
    return meta, strategies


def alone_note(strategy_name: str, symbol: str) -> str:
    """Why a walker's numbers for a strategy with a risk profile can differ from a multi-symbol backtest's."""
    risks = ", ".join(lookup("strategy", strategy_name).risk_names)
    return (f"{strategy_name} ran on {symbol} alone: its risk profile ({risks}) saw only this symbol's positions. "
            f"A backtest of several symbols under the same profile checks each signal against the positions of all "
            f"of them, which changes results.")


def portfolio_note(strategy_name: str, pairs: list[tuple[str, str]]) -> str:
    """What a portfolio run (pairs sharing a risk profile, SPEC §8) means for the numbers of one of its pairs."""
    risks = ", ".join(lookup("strategy", strategy_name).risk_names)
    together = ", ".join(f"{s} {g}" for s, g in pairs)
    return (f"{strategy_name} ran as one portfolio under its shared risk profile ({risks}) with {together}: each "
            f"signal was checked against the positions of all of them, so results differ from a walker, which "
            f"tests one symbol at a time.")


def walker_report(meta: dict[str, Any], strategies: list[dict[str, Any]], image: str | None = None) -> str:
    """SPEC §14 #8 from plain rows: ``meta`` (walker, symbol, exchange, frame, metric, best) and per tested
    strategy its metric value, statistics and closed signals (newest first)."""
    ranked = sorted(enumerate(strategies), key=lambda it: (it[1]["metric_value"] is None,
                                                          -(it[1]["metric_value"] or 0.0), it[0]))[:10]
    top_rows = []
    for rank, (_, c) in enumerate(ranked, 1):
        s = c["stats"]
        top_rows.append([rank, c["strategy"], fixed(c["metric_value"]), s["total_signals"],
                         fixed(s["win_rate"], 2, "%"), pct(s["avg_pnl"]), pct(s["total_pnl"]),
                         fixed(s["sharpe_ratio"], 3), fixed(s["std_dev"], 3, "%")])
    signal_rows = [[c["strategy"], short_id(r["id"]), r["symbol"], r["position"].upper(), pct(r["pnl"]),
                    r["close_reason"], iso(r["pending_at"]), iso(r["close_timestamp"])]
                   for c in strategies for r in c["signals"]]
    best = next((c for c in strategies if c["strategy"] == meta["best_strategy"]), None)
    return render("walker.md.j2", **{"notes": [], **meta}, tested=len(strategies),
                  best_signals=best["stats"]["total_signals"] if best else 0,
                  top_headers=["Rank", "Strategy", "Metric", "Total Signals", "Win Rate", "Avg PNL", "Total PNL",
                               "Sharpe Ratio", "Std Dev"], top_rows=top_rows,
                  signal_headers=["Strategy", "Signal ID", "Symbol", "Position", "PNL (net)", "Close Reason",
                                  "Open Time", "Close Time"], signal_rows=signal_rows, image=image)


def sweep_report(summary: dict[str, Any], image: str | None = None, top: int = 20) -> str:
    """A parameter sweep's ranking (from ``sweep_flow``'s summary): the best first, then the table."""
    metric, ranking = summary["metric"], summary["ranking"]
    names = list(summary["params"])
    rows = [[k, r["strategy"], *(num(r["params"][n]) for n in names), fixed(r["metric"], 3),
             pct(r["compounded_return"]), fixed(r["max_drawdown"], 2, "%"), r["trades"]]
            for k, r in enumerate(ranking[:top], 1)]
    best_names = [r["strategy"] for r in ranking[:5]]
    by_pair = {(row["strategy"], row["symbol"]): row["stats"] for row in summary["rows"]}
    symbol_rows = [[v, s, fixed(by_pair[(v, s)].get(metric), 3), pct(by_pair[(v, s)].get("compounded_return")),
                    by_pair[(v, s)]["total_signals"]] for v in best_names for s in summary["symbols"]
                   if (v, s) in by_pair]
    space = 1
    for values in summary["params"].values():
        space *= len(values)
    return render("sweep.md.j2", **{k: summary[k] for k in ("strategy", "exchange_name", "frame_name", "symbols",
                                                             "search", "tried", "metric")},
                  space=space, best=ranking[0] if ranking else None, shown=min(top, len(ranking)),
                  headers=["Rank", "Variant", *names, metric, "Compounded", "Max DD", "Trades"], rows=rows,
                  image=image, axes=sweep_axes(summary), per_symbol_count=len(best_names),
                  symbol_headers=["Variant", "Symbol", metric, "Compounded", "Trades"], symbol_rows=symbol_rows)


def sweep_axes(summary: dict[str, Any]) -> list[str]:
    """The two parameters a sweep's heatmap spreads over: the ones asked for, else the first two with more
    than one value."""
    if summary.get("heatmap"):
        return list(summary["heatmap"])
    return [name for name, values in summary["params"].items() if len(values) > 1][:2]


def walk_forward_report(summary: dict[str, Any]) -> str:
    """A walk-forward's windows and its stitched out-of-sample figures (from ``walk_forward_flow``)."""
    metric = summary["metric"]
    oos_rows = [[s, st["total_signals"], pct(st["compounded_return"]), fixed(st["max_drawdown"], 2, "%"),
                 fixed(st["sharpe_ratio"], 3), fixed(st["daily_sharpe"], 3), fixed(st["win_rate"], 1, "%"),
                 pct(st["buy_and_hold_return"]), f"[report]({Path(summary['symbol_reports'][s]).name})"]
                for s, st in summary["out_of_sample"].items()]
    window_rows = [[w["window"], iso(w["train_start"])[:16], iso(w["test_start"])[:16], iso(w["test_end"])[:16],
                    w["variant"], fixed(w["train_metric"], 3), fixed(w["test_metric"], 3), pct(w["train_return"]),
                    pct(w["test_return"]), w["test_trades"]] for w in summary["windows"]]
    return render("walk_forward.md.j2", **summary, oos_rows=oos_rows, window_rows=window_rows,
                  oos_headers=["Symbol", "Trades", "Compounded", "Max DD", "Sharpe", "Daily Sharpe", "Win Rate",
                               "Buy and Hold", "Report"],
                  window_headers=["Window", "Train from", "Test from", "Test to", "Chosen", f"Train {metric}",
                                  f"Test {metric}", "Train return", "Test return", "Test trades"])
