"""SPEC §5.7 worked examples A–E, reproduced number for number through Backtest.run."""
import pytest

import btk_core as bt
from tests.helpers import T0, M, Scenario


@pytest.fixture(autouse=True)
def far_future(fake_clock):
    fake_clock.now = T0 + 100 * 24 * 60 * M


def long_tp():
    return {"position": "long", "price_take_profit": 101, "price_stop_loss": 99, "minute_estimated_time": 60}


def test_a_long_take_profit():
    sc = Scenario({10: (100, 100.45, 99.9, 100.3), 11: (100.3, 100.85, 100.2, 100.7),
                   12: (100.7, 101.2, 100.6, 101.1)}, {10: long_tp()})
    (closed,) = sc.run()
    assert closed.action == "closed" and closed.close_reason == "take_profit"
    assert closed.current_price == 101 and closed.pnl.price_close == 101 and closed.pnl.price_open == 100.0
    assert closed.close_timestamp == T0 + 13 * M == closed.timestamp
    assert closed.pnl.pnl_percentage == 0.5982017982018049
    assert closed.signal.pending_at == T0 + 10 * M and closed.signal.price_open == 100.0
    assert sc.partials == [("profit", lv, T0 + 11 * M, 100.45) for lv in (10, 20, 30, 40)] + \
        [("profit", lv, T0 + 12 * M, 100.85) for lv in (50, 60, 70, 80)]
    assert sc.calls[:2] == [10, 13]  # backtest resumes at m13
    assert sc.actions() == ["opened", "closed"]


def test_a_progress_numbers():
    import numpy as np

    from btk_core.evaluate import _progress
    row = bt.SignalRow("x", "long", "", 100.0, 101.0, 99.0, 60, "BTC", "ex", "s", 0, 0, False)
    assert _progress(row, np.array([100.45]), "profit")[0] == 45.000000000000284
    assert _progress(row, np.array([100.85]), "profit")[0] == 84.99999999999943
    assert _progress(row, np.array([99.9]), "loss")[0] == pytest.approx(10, abs=1e-9) and \
        _progress(row, np.array([99.9]), "loss")[0] < 10


def short_sl():
    return {"position": "short", "price_take_profit": 98, "price_stop_loss": 101, "minute_estimated_time": 60}


def test_b_short_stop_loss():
    sc = Scenario({10: (100, 100.6, 99.7, 99.8), 11: (99.8, 101.3, 99.6, 101.0)}, {10: short_sl()})
    (closed,) = sc.run()
    assert (closed.close_reason, closed.current_price, closed.close_timestamp) == ("stop_loss", 101, T0 + 12 * M)
    assert closed.pnl.pnl_percentage == -1.4022022022021814
    assert sc.partials == [("profit", 10, T0 + 11 * M, 99.7), ("loss", 40, T0 + 11 * M, 100.6)]


@pytest.mark.parametrize("priority, reason, price, pnl", [
    ("stop_loss", "stop_loss", 101, -1.4022022022021814),
    ("take_profit", "take_profit", 98, 1.6038038038038247),
])
def test_b_variant_same_candle(priority, reason, price, pnl):
    bt.set_config(CC_SAME_CANDLE_PRIORITY=priority)
    sc = Scenario({10: (100, 100.6, 99.7, 99.8), 11: (99.8, 101.3, 97.9, 99.0)}, {10: short_sl()})
    (closed,) = sc.run()
    assert (closed.close_reason, closed.current_price, closed.pnl.pnl_percentage) == (reason, price, pnl)
    assert closed.close_timestamp == T0 + 12 * M


def test_c_scheduled_activation_then_stop_loss_same_candle():
    sc = Scenario({10: (100, 100.2, 99.5, 99.6), 11: (99.6, 99.7, 97.8, 98.1)},
                  {10: {"position": "long", "price_open": 99, "price_take_profit": 101, "price_stop_loss": 98,
                        "minute_estimated_time": 60}})
    (closed,) = sc.run()
    assert sc.actions() == ["scheduled", "opened", "closed"]
    assert sc.pings == [T0 + 11 * M]
    scheduled, opened = [r for r in sc.results if r.action in ("scheduled", "opened")]
    assert scheduled.timestamp == T0 + 10 * M and scheduled.current_price == 100.0
    assert opened.timestamp == T0 + 12 * M == opened.signal.pending_at and opened.current_price == 99
    assert opened.signal.scheduled_at == T0 + 10 * M and not opened.signal.is_scheduled
    assert (closed.close_reason, closed.current_price, closed.close_timestamp) == ("stop_loss", 98, T0 + 12 * M)
    assert closed.pnl.pnl_percentage == -1.4078830260648327
    assert sc.calls[:2] == [10, 12]


def test_d_timeout():
    sc = Scenario({}, {10: {"position": "long", "price_open": 97, "price_take_profit": 99, "price_stop_loss": 96,
                           "minute_estimated_time": 60}})
    (cancelled,) = sc.run()
    assert len(sc.pings) == 120 and sc.pings[0] == T0 + 11 * M and sc.pings[-1] == T0 + 130 * M
    assert (cancelled.reason, cancelled.close_timestamp, cancelled.current_price) == ("timeout", T0 + 130 * M, 100.0)
    assert cancelled.cancel_id is None
    assert sc.calls[:2] == [10, 130]


def test_e_time_expiry():
    sc = Scenario({10: (100, 100.6, 100.0, 100.3, 20), 11: (100.3, 101.0, 100.2, 100.9, 30),
                   12: (100.9, 101.2, 100.4, 100.6, 40)},
                  {10: {"position": "long", "price_take_profit": 105, "price_stop_loss": 95, "minute_estimated_time": 3}})
    (closed,) = sc.run()
    assert (closed.close_reason, closed.close_timestamp) == ("time_expired", T0 + 13 * M)
    assert closed.current_price == 100.51212121212122
    assert closed.pnl.pnl_percentage == 0.11129779311598542
    assert sc.partials == [("profit", 10, T0 + 11 * M, 100.6), ("profit", 20, T0 + 12 * M, 101.0)]
