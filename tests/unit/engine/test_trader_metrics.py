"""SPEC §20.4, with worked numbers: compounded return and drawdown, profit factor, expectancy, exposure,
CAGR, daily Sharpe, Sortino, Calmar and buy and hold."""
import math

import pytest

from btk_core.stats import Span, compounded, daily_returns, trader_metrics

DAY, HOUR = 86_400_000, 3_600_000


def test_compounding_never_goes_below_minus_100():
    assert compounded([10, -50, 20]) == pytest.approx((-34.0, 50.0))  # 1.1, 0.55, 0.66: peak 1.1 -> 0.55
    ret, drawdown = compounded([-60] * 10)  # summed: -600 %
    assert -100 < ret < -99.98 and drawdown < 100
    assert compounded([]) == (None, None)
    assert compounded([-5]) == pytest.approx((-5.0, 5.0))  # the starting equity is the first peak


def test_worked_example_over_three_days():
    # trades close on day 0 at 10:00 (+2 %) and 20:00 (-1 %), and on day 2 at 12:00 (+3 %); each lasted an hour
    pnls, closes = [2.0, -1.0, 3.0], [10 * HOUR, 20 * HOUR, 2 * DAY + 12 * HOUR]
    span = Span(0, 3 * DAY, first_close=100.0, last_close=110.0)
    m = trader_metrics(pnls, [HOUR] * 3, closes, span)
    equity = 1.02 * 0.99 * 1.03
    assert m["compounded_return"] == pytest.approx((equity - 1) * 100)          # 4.0094 %
    assert m["max_drawdown"] == pytest.approx(1.0)                               # 1.02 -> 1.0098
    assert m["profit_factor"] == pytest.approx(5.0)                              # (2 + 3) / 1
    assert (m["avg_win"], m["avg_loss"]) == (2.5, -1.0)
    assert m["expectancy"] == pytest.approx(2 / 3 * 2.5 + 1 / 3 * -1.0)         # 1.3333
    assert m["avg_duration_minutes"] == 60.0
    assert m["exposure"] == pytest.approx(3 * HOUR / (3 * DAY) * 100)           # 4.1667 %
    days = [1.02 * 0.99 - 1, 0.0, 0.03]
    assert daily_returns(pnls, closes, span) == pytest.approx(days)
    mean = sum(days) / 3
    std = math.sqrt(sum((d - mean) ** 2 for d in days) / 2)
    assert m["daily_sharpe"] == pytest.approx(mean / std * math.sqrt(365))      # 16.57
    assert m["sortino"] is None                                                  # no losing day
    assert m["cagr"] == pytest.approx((equity ** (365 / 3) - 1) * 100)
    assert m["calmar"] == pytest.approx(m["cagr"] / 1.0)
    assert m["buy_and_hold_return"] == pytest.approx(10.0)


def test_sortino_uses_the_downside_of_every_day():
    span = Span(0, 2 * DAY)
    m = trader_metrics([-2.0, 4.0], [HOUR, HOUR], [HOUR, DAY + HOUR], span)
    days = [-0.02, 0.04]
    downside = math.sqrt((0.02 ** 2 + 0.0) / 2)
    assert m["sortino"] == pytest.approx(sum(days) / 2 / downside * math.sqrt(365))


def test_without_trades_only_buy_and_hold_is_defined():
    m = trader_metrics([], [], [], Span(0, DAY, 50.0, 40.0))
    assert m["buy_and_hold_return"] == pytest.approx(-20.0)
    assert all(m[k] is None for k in ("compounded_return", "max_drawdown", "exposure", "cagr", "daily_sharpe",
                                      "sortino", "calmar", "profit_factor", "expectancy"))


def test_without_a_span_the_time_based_fields_are_none():
    m = trader_metrics([1.0, -1.0], [HOUR, HOUR], [HOUR, 2 * HOUR], None)
    assert m["compounded_return"] == pytest.approx((1.01 * 0.99 - 1) * 100)
    assert all(m[k] is None for k in ("exposure", "cagr", "daily_sharpe", "sortino", "calmar", "buy_and_hold_return"))
