"""The report pictures: worked numbers for the compounded curve, and what each chart must (not) show."""
from types import SimpleNamespace

import numpy as np
import pytest

from btk_core.reports import plots
from btk_core.stats import Span


def test_compounded_curve_worked_example():
    # +10 %, -50 %, +20 %: equity 1.10, 0.55, 0.66; the peak stays 1.10, so the drawdowns are 0, -50, -40 %
    equity, drawdown = plots.compounded_curve([10, -50, 20])
    assert np.allclose(equity, [0, 10, -45, -34])
    assert np.allclose(drawdown, [0, 0, -50, -40])


def test_a_long_losing_streak_never_goes_below_minus_100_percent():
    equity, drawdown = plots.compounded_curve([-30.0] * 50)  # summed, this would be -1500 %
    assert equity.min() > -100 and drawdown.min() > -100


def test_equity_chart_with_buy_and_hold(tmp_path):
    span = Span(0, 3_600_000, 100.0, 105.0, ((0, 100.0), (1_800_000, 90.0), (3_540_000, 105.0)))
    name = plots.equity_png([600_000, 1_200_000], [1.0, -0.5], "s on X", str(tmp_path), "e.png", span)
    assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_walker_chart_is_left_out_when_no_strategy_has_a_value(tmp_path):
    assert plots.walker_png(["a", "b"], [None, None], "sharpe_ratio", None, "BTC", str(tmp_path), "w.png") is None
    assert not (tmp_path / "w.png").exists()
    assert plots.walker_png(["a", "b"], [0.5, None], "sharpe_ratio", "a", "BTC", str(tmp_path), "w.png") == "w.png"


@pytest.mark.parametrize("metric, label", [("sharpe_ratio", "Sharpe ratio"), ("compounded_return", "Compounded return")])
def test_metric_labels_read_as_words(metric, label):
    assert plots.metric_label(metric) == label


def test_heatmap_prints_trade_counts_as_integers(tmp_path, monkeypatch):
    texts = []
    real = plots._save

    def keep_texts(fig, directory, file_name):
        texts.extend(t.get_text() for ax in fig.axes for t in ax.texts)
        return real(fig, directory, file_name)
    monkeypatch.setattr(plots, "_save", keep_texts)
    row = SimpleNamespace(symbol="BTC", compounded_return=-2.5, compounded_max_drawdown=4.0, sharpe_ratio=None,
                          expectancy=-0.1, win_rate=40.0, total_trades=193)
    plots.heatmap_png(SimpleNamespace(rows=[row]), str(tmp_path), "h.png", "sma")
    assert "193" in texts and "193.00" not in texts and "N/A" in texts
