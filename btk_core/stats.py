"""Trade statistics with safe math: ``None`` wherever a value would be NaN or infinite (SPEC §13.1)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from .results import ClosedResult


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
class BacktestStatistics:
    """Statistics over closed trades; ``signal_list`` is newest first."""

    total_signals: int = 0
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
    signal_list: list[ClosedResult] = field(default_factory=list)


def trade_metrics(pnls: Sequence[float], durations_ms: Sequence[int]) -> dict[str, float | int | None]:
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


def backtest_statistics(closed: Sequence[ClosedResult]) -> BacktestStatistics:
    """Statistics of closed results given newest first."""
    metrics = trade_metrics([r.pnl.pnl_percentage for r in closed],
                            [r.close_timestamp - r.signal.pending_at for r in closed])
    return BacktestStatistics(**metrics, signal_list=list(closed))
