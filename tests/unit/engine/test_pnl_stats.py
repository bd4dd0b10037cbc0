"""SPEC §6 PnL table and §13.1 statistics, number for number."""
import pytest

from btk_core.pnl import compute_pnl
from btk_core.stats import trade_metrics


@pytest.mark.parametrize("position, open_, close, expected", [
    ("long", 42000, 43000, 1.9763950335379084),
    ("long", 42000, 41000, -2.7759954331382737),
    ("short", 42000, 43000, -2.7859192525859022),
    ("short", 42000, 41000, 1.9855188521855365),
    ("long", 42000, 42210, 0.09920079920081859),
    ("long", 42000, 42000, -0.39980019980018255),
    ("long", 100, 101, 0.5982017982018049),
    ("short", 100, 101, -1.4022022022021814),
])
def test_pnl_table(position, open_, close, expected):
    pnl = compute_pnl(position, open_, close, fee_percent=0.1, slippage_percent=0.1)
    assert pnl.pnl_percentage == expected
    assert (pnl.price_open, pnl.price_close) == (open_, close)


def test_pnl_without_costs_is_the_plain_move():
    assert compute_pnl("long", 100, 101, fee_percent=0, slippage_percent=0).pnl_percentage == pytest.approx(1.0)


HOUR = 3_600_000


def test_statistics_first_example():
    m = trade_metrics([2, -1, 3, -2, 1], [HOUR] * 5)
    assert (m["total_signals"], m["win_count"], m["loss_count"]) == (5, 3, 2)
    assert m["win_rate"] == 60.0 and m["avg_pnl"] == 0.6 and m["total_pnl"] == 3.0
    assert m["std_dev"] == 2.073644135332772
    assert m["sharpe_ratio"] == 0.2893456933022473
    assert m["annualized_sharpe_ratio"] == 5.527941708708923
    assert m["certainty_ratio"] == 1.3333333333333333
    assert m["expected_yearly_returns"] == 5256.0


def test_statistics_equal_trades():
    m = trade_metrics([1.5, 1.5, 1.5], [HOUR] * 3)
    assert m["std_dev"] == 0.0 and m["sharpe_ratio"] is None and m["annualized_sharpe_ratio"] is None
    assert m["certainty_ratio"] is None and m["expected_yearly_returns"] == 13140.0


def test_statistics_single_loss():
    m = trade_metrics([-0.4], [HOUR])
    assert m["win_rate"] == 0.0 and m["std_dev"] is None and m["sharpe_ratio"] is None
    assert m["certainty_ratio"] == 0.0 and m["expected_yearly_returns"] == -3504.0


def test_statistics_empty_and_zero_duration():
    assert trade_metrics([], []) == {"total_signals": 0, "win_count": 0, "loss_count": 0}
    assert trade_metrics([1.0, 2.0], [0, 0])["expected_yearly_returns"] is None
    m = trade_metrics([0.0, 0.0], [HOUR, HOUR])
    assert (m["win_count"], m["loss_count"], m["win_rate"]) == (0, 0, 0.0)
