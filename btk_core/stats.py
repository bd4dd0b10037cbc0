"""Trade statistics with safe math: ``None`` wherever a value would be NaN or infinite (SPEC §13.1)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .results import ClosedResult

if TYPE_CHECKING:
    from .risk import RiskContract


def safe(x: float | None) -> float | None:
    """``x`` if it is a finite float, else ``None`` (SPEC §0.4)."""
    return x if x is not None and math.isfinite(x) else None


def sample_std(values: Sequence[float], mean: float) -> float | None:
    """Sample standard deviation (``n - 1``); ``None`` below two values, exactly 0.0 when all are equal."""
    n = len(values)
    if n < 2:
        return None
    if all(v == values[0] for v in values):
        return 0.0
    return safe(math.sqrt(math.fsum((v - mean) * (v - mean) for v in values) / (n - 1)))


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` or ``None`` when undefined."""
    if a is None or b is None or b == 0:
        return None
    return safe(a / b)


@dataclass(frozen=True)
class TradeMetrics:
    """The metrics of §13.1, shared by backtest and live statistics."""

    win_count: int = 0
    loss_count: int = 0
    win_rate: float | None = None
    avg_pnl: float | None = None
    total_pnl: float | None = None
    std_dev: float | None = None
    sharpe_ratio: float | None = None
    annualized_sharpe_ratio: float | None = None
    certainty_ratio: float | None = None
    expected_yearly_returns: float | None = None


@dataclass(frozen=True)
class TraderMetrics:
    """The numbers a trader reads (SPEC §20.4), over closed trades in close order; ``None`` where undefined.
    The §13.1 fields stay what they are (sums and per-trade ratios); these compound, and the ones that need
    time use the frame (a backtest) or the run's span (live)."""

    compounded_return: float | None = None
    max_drawdown: float | None = None
    profit_factor: float | None = None
    avg_win: float | None = None
    avg_loss: float | None = None
    expectancy: float | None = None
    avg_duration_minutes: float | None = None
    exposure: float | None = None
    cagr: float | None = None
    daily_sharpe: float | None = None
    sortino: float | None = None
    calmar: float | None = None
    buy_and_hold_return: float | None = None


@dataclass(frozen=True)
class Span:
    """The time a statistic is measured over: ``[start, end)`` in ms, and the first and last 1m close visible in
    it (for buy and hold; ``None`` when unknown); ``benchmark`` samples ``(timestamp, close)`` of the 1m closes
    across it (a few hundred, first and last included) for the buy-and-hold line of the equity chart."""

    start: int
    end: int
    first_close: float | None = None
    last_close: float | None = None
    benchmark: Sequence[tuple[int, float]] = ()


@dataclass(frozen=True)
class BacktestStatistics(TradeMetrics, TraderMetrics):
    """Statistics over closed trades; ``signal_list`` is newest first."""

    total_signals: int = 0
    signal_list: list[ClosedResult] = field(default_factory=list)


DAY_MS = 86_400_000


def compounded(pnls: Sequence[float]) -> tuple[float | None, float | None]:
    """``(compounded return %, max drawdown % of the peak)`` of ``prod(1 + p/100)`` over trades in close order,
    the starting equity (1) counting as a peak; ``(None, None)`` without trades."""
    if not pnls:
        return None, None
    equity = peak = 1.0
    worst = 0.0
    for p in pnls:
        equity *= 1 + p / 100
        peak = max(peak, equity)
        worst = max(worst, (peak - equity) / peak * 100)
    return safe((equity - 1) * 100), safe(worst)


def win_loss(pnls: Sequence[float]) -> dict[str, float | None]:
    """``profit_factor``, ``avg_win``, ``avg_loss`` and ``expectancy`` (SPEC §13.3)."""
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    avg_win = math.fsum(wins) / len(wins) if wins else None
    avg_loss = math.fsum(losses) / len(losses) if losses else None
    win_rate = len(wins) / len(pnls) * 100 if pnls else None
    expectancy = None
    if win_rate is not None and avg_win is not None and avg_loss is not None:
        expectancy = safe(win_rate / 100 * avg_win + (100 - win_rate) / 100 * avg_loss)
    return {"profit_factor": ratio(math.fsum(wins), abs(math.fsum(losses))) if wins and losses else None,
            "avg_win": avg_win, "avg_loss": avg_loss, "expectancy": expectancy}


def daily_returns(pnls: Sequence[float], close_times: Sequence[int], span: Span) -> list[float]:
    """Return of the compounded equity on each UTC day of ``span`` (a day without a close returns 0)."""
    first, last = span.start // DAY_MS, (span.end - 1) // DAY_MS
    growth = [1.0] * (last - first + 1)
    for p, t in zip(pnls, close_times):
        day = min(max(t // DAY_MS, first), last) - first  # a close at the very end counts on the last day
        growth[day] *= 1 + p / 100
    return [g - 1 for g in growth]


def trader_metrics(pnls: Sequence[float], durations_ms: Sequence[int], close_times: Sequence[int],
                   span: Span | None) -> dict[str, float | None]:
    """SPEC §20.4 over trades given in close order; the time-based fields need ``span``."""
    ret, drawdown = compounded(pnls)
    out: dict[str, float | None] = {f.name: None for f in fields(TraderMetrics)}
    out.update(compounded_return=ret, max_drawdown=drawdown, **win_loss(pnls))
    out["avg_duration_minutes"] = safe(math.fsum(durations_ms) / len(durations_ms) / 60_000) if pnls else None
    if span is None or span.end <= span.start:
        return out
    length = span.end - span.start
    if span.first_close and span.last_close:
        out["buy_and_hold_return"] = safe((span.last_close / span.first_close - 1) * 100)
    if not pnls:
        return out
    out["exposure"] = safe(min(100.0, math.fsum(durations_ms) / length * 100))
    equity = 1 + (ret or 0.0) / 100
    years = length / (365 * DAY_MS)
    out["cagr"] = -100.0 if equity <= 0 else safe((equity ** (1 / years) - 1) * 100)
    days = daily_returns(pnls, close_times, span)
    mean = math.fsum(days) / len(days)
    std = sample_std(days, mean)
    out["daily_sharpe"] = safe(mean / std * math.sqrt(365)) if std else None
    downside = math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in days) / len(days))
    out["sortino"] = safe(mean / downside * math.sqrt(365)) if downside else None
    out["calmar"] = ratio(out["cagr"], drawdown) if drawdown else None
    return out


def trade_metrics(pnls: Sequence[float], durations_ms: Sequence[int]) -> dict[str, Any]:
    """The metrics of §13.1 over trades in any order (they are order independent)."""
    n = len(pnls)
    if n == 0:
        return {"total_signals": 0, "win_count": 0, "loss_count": 0}
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    total = math.fsum(pnls)
    avg = total / n
    std = sample_std(pnls, avg)
    sharpe = ratio(avg, std)
    avg_win = math.fsum(wins) / len(wins) if wins else None
    avg_loss = math.fsum(losses) / len(losses) if losses else None
    if avg_loss is None:
        certainty = None
    elif avg_win is None:
        certainty = 0.0
    else:
        certainty = ratio(avg_win, abs(avg_loss))
    avg_days = math.fsum(durations_ms) / n / 86_400_000
    return {
        "total_signals": n, "win_count": len(wins), "loss_count": len(losses),
        "win_rate": safe(len(wins) / n * 100), "avg_pnl": safe(avg), "total_pnl": safe(total),
        "std_dev": std, "sharpe_ratio": sharpe,
        "annualized_sharpe_ratio": safe(sharpe * math.sqrt(365)) if sharpe is not None else None,
        "certainty_ratio": certainty,
        "expected_yearly_returns": ratio(avg * 365, avg_days),
    }


def closed_statistics(closed: Sequence[ClosedResult], span: Span | None) -> dict[str, Any]:
    """§13.1 and §20.4 fields over closed results given in any order."""
    metrics = trade_metrics([r.pnl.pnl_percentage for r in closed],
                            [r.close_timestamp - r.signal.pending_at for r in closed])
    in_order = sorted(closed, key=lambda r: r.close_timestamp)
    metrics.update(trader_metrics([r.pnl.pnl_percentage for r in in_order],
                                  [r.close_timestamp - r.signal.pending_at for r in in_order],
                                  [r.close_timestamp for r in in_order], span))
    return metrics


def backtest_statistics(closed: Sequence[ClosedResult], span: Span | None = None) -> BacktestStatistics:
    """Statistics of closed results given newest first; ``span`` is the frame (the time-based §20.4 fields)."""
    return BacktestStatistics(**closed_statistics(closed, span), signal_list=list(closed))


# ---- heatmap (SPEC §13.3) -------------------------------------------------------------
@dataclass(frozen=True)
class HeatmapRow:
    """One symbol of a strategy's portfolio heatmap, from its trades in time order."""

    symbol: str
    total_trades: int
    win_count: int
    loss_count: int
    win_rate: float | None
    total_pnl: float | None
    avg_pnl: float | None
    std_dev: float | None
    sharpe_ratio: float | None
    max_drawdown: float | None
    profit_factor: float | None
    avg_win: float | None
    avg_loss: float | None
    max_win_streak: int
    max_loss_streak: int
    expectancy: float | None
    compounded_return: float | None = None         # SPEC §20.4
    compounded_max_drawdown: float | None = None   # of the compounded equity, % of its peak


@dataclass(frozen=True)
class HeatmapStatistics:
    rows: list[HeatmapRow]
    total_symbols: int
    portfolio_total_pnl: float | None
    portfolio_total_trades: int
    portfolio_sharpe_ratio: float | None
    portfolio_compounded_return: float | None = None  # the mean of the rows' compounded returns (equal weight)


def _streaks(pnls: Sequence[float]) -> tuple[int, int]:
    """Longest runs of wins / losses; a flat trade neither extends nor breaks a run."""
    best_w = best_l = run_w = run_l = 0
    for p in pnls:
        if p > 0:
            run_w, run_l = run_w + 1, 0
        elif p < 0:
            run_w, run_l = 0, run_l + 1
        best_w, best_l = max(best_w, run_w), max(best_l, run_l)
    return best_w, best_l


def _max_drawdown(pnls: Sequence[float]) -> float:
    """Peak-to-trough of the running sum of PnL percentages, in time order (>= 0)."""
    equity = peak = worst = 0.0
    for p in pnls:
        equity += p
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def heatmap_row(symbol: str, pnls: Sequence[float]) -> HeatmapRow:
    """The §13.3 row of ``pnls`` given in time order."""
    n = len(pnls)
    m = trade_metrics(pnls, [0] * n)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    avg_win = math.fsum(wins) / len(wins) if wins else None
    avg_loss = math.fsum(losses) / len(losses) if losses else None
    profit_factor = ratio(math.fsum(wins), abs(math.fsum(losses))) if wins and losses else None
    win_rate = m.get("win_rate")
    expectancy = None
    if win_rate is not None and avg_win is not None and avg_loss is not None:
        expectancy = safe(win_rate / 100 * avg_win + (100 - win_rate) / 100 * avg_loss)
    w_streak, l_streak = _streaks(pnls)
    ret, drawdown = compounded(pnls)
    return HeatmapRow(symbol, n, m["win_count"], m["loss_count"], win_rate, m.get("total_pnl"), m.get("avg_pnl"),
                      m.get("std_dev"), m.get("sharpe_ratio"), _max_drawdown(pnls) if n else None, profit_factor,
                      avg_win, avg_loss, w_streak, l_streak, expectancy, ret, drawdown)


def heatmap_statistics(pnls_by_symbol: Mapping[str, Sequence[float]]) -> HeatmapStatistics:
    """Rows sorted by Sharpe descending (None last, ties by symbol) and portfolio aggregates."""
    rows = [heatmap_row(symbol, pnls) for symbol, pnls in pnls_by_symbol.items() if pnls]
    rows.sort(key=lambda r: (r.sharpe_ratio is None, -(r.sharpe_ratio or 0.0), r.symbol))
    total_trades = sum(r.total_trades for r in rows)
    with_sharpe = [r for r in rows if r.sharpe_ratio is not None]
    sharpe = (safe(math.fsum(r.sharpe_ratio * r.total_trades for r in with_sharpe) / total_trades)  # type: ignore[operator]
              if with_sharpe and total_trades else None)
    total_pnl = safe(math.fsum(r.total_pnl or 0.0 for r in rows)) if rows else None
    returns = [r.compounded_return for r in rows if r.compounded_return is not None]
    portfolio = safe(math.fsum(returns) / len(returns)) if returns else None
    return HeatmapStatistics(rows, len(rows), total_pnl, total_trades, sharpe, portfolio)


# ---- schedule, partial, live (SPEC §13.2, §13.4, §13.5) ---------------------------------
@dataclass(frozen=True)
class ScheduleStatistics:
    total_events: int
    total_scheduled: int
    total_opened: int
    total_cancelled: int
    activation_rate: float | None
    cancellation_rate: float | None
    avg_activation_time: float | None
    avg_wait_time: float | None
    event_list: list


def schedule_statistics(event_list: list) -> ScheduleStatistics:
    scheduled = [e for e in event_list if e.action == "scheduled"]
    opened = [e for e in event_list if e.action == "opened"]
    cancelled = [e for e in event_list if e.action == "cancelled"]
    n = len(scheduled)
    activation = [(e.signal.pending_at - e.signal.scheduled_at) / 60000 for e in opened]
    waits = [(e.close_timestamp - e.signal.scheduled_at) / 60000 for e in cancelled]
    return ScheduleStatistics(
        len(event_list), n, len(opened), len(cancelled),
        safe(len(opened) / n * 100) if n else None, safe(len(cancelled) / n * 100) if n else None,
        safe(math.fsum(activation) / len(activation)) if activation else None,
        safe(math.fsum(waits) / len(waits)) if waits else None, list(event_list))


@dataclass(frozen=True)
class PartialStatistics:
    total_events: int
    total_profit: int
    total_loss: int
    event_list: list


@dataclass(frozen=True)
class LiveStatistics(TradeMetrics, TraderMetrics):
    """The metrics of §13.1 and §20.4 over the ``closed`` events currently in the live queue."""

    total_events: int = 0
    total_closed: int = 0
    event_list: list = field(default_factory=list)


def live_statistics(event_list: list, span: Span | None = None) -> LiveStatistics:
    """``span``: the run's time so far (the time-based §20.4 fields)."""
    closed = [e for e in event_list if e.action == "closed"]
    m = closed_statistics(closed, span)
    m.pop("total_signals")
    return LiveStatistics(**m, total_events=len(event_list), total_closed=len(closed), event_list=list(event_list))


# ---- performance (SPEC §13.6) -----------------------------------------------------------
@dataclass(frozen=True)
class MetricStats:
    metric_type: str
    count: int
    total_duration: float
    avg_duration: float
    min_duration: float
    max_duration: float
    std_dev: float | None
    median: float
    p95: float
    p99: float
    avg_wait_time: float
    min_wait_time: float
    max_wait_time: float


@dataclass(frozen=True)
class PerformanceStatistics:
    strategy_name: str
    total_events: int
    total_duration: float
    metric_stats: dict[str, MetricStats]
    events: list


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """``sorted[max(0, ceil(count * p / 100) - 1)]``."""
    return sorted_values[max(0, math.ceil(len(sorted_values) * p / 100) - 1)]


def metric_stats(metric_type: str, durations: Sequence[float], waits: Sequence[float]) -> MetricStats:
    n = len(durations)
    total = math.fsum(durations)
    avg = total / n
    ordered = sorted(durations)
    return MetricStats(metric_type, n, total, avg, ordered[0], ordered[-1], sample_std(durations, avg),
                       percentile(ordered, 50), percentile(ordered, 95), percentile(ordered, 99),
                       math.fsum(waits) / len(waits) if waits else 0.0, min(waits) if waits else 0.0,
                       max(waits) if waits else 0.0)


def performance_statistics(strategy_name: str, event_list: list) -> PerformanceStatistics:
    by_type: dict[str, list] = {}
    for e in event_list:
        by_type.setdefault(e.metric_type, []).append(e)
    stats = {kind: metric_stats(kind, [e.duration for e in items],
                                [e.timestamp - e.previous_timestamp for e in items if e.previous_timestamp is not None])
             for kind, items in by_type.items()}
    return PerformanceStatistics(strategy_name, len(event_list), math.fsum(e.duration for e in event_list), stats,
                                 list(event_list))


# ---- risk (SPEC §13.5) --------------------------------------------------------------------
@dataclass(frozen=True)
class RiskStatistics:
    """Risk rejections of a pair (SPEC §13.5)."""

    total_rejections: int
    by_symbol: dict[str, int]
    by_strategy: dict[str, int]
    event_list: list[RiskContract]


def risk_statistics(event_list: list[RiskContract]) -> RiskStatistics:
    """Counts of rejections per symbol and per strategy (sorted by name) over events given newest first."""
    by_symbol: dict[str, int] = {}
    by_strategy: dict[str, int] = {}
    for e in event_list:
        by_symbol[e.symbol] = by_symbol.get(e.symbol, 0) + 1
        by_strategy[e.strategy_name] = by_strategy.get(e.strategy_name, 0) + 1
    return RiskStatistics(len(event_list), dict(sorted(by_symbol.items())), dict(sorted(by_strategy.items())),
                          list(event_list))
