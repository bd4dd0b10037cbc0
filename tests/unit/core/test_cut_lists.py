"""SPEC §20.5: a report whose list was cut by its queue says so."""
import btk_core as bt
from btk_core.reports import stores


def test_a_cut_list_says_how_much_was_cut():
    from btk_core.results import PerformanceContract
    bt.set_config(CC_PERFORMANCE_MAX_EVENTS=3)
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    stop = bt.record_details()
    try:
        for k in range(5):
            bt.events.performance.emit(PerformanceContract(k, None, "backtest_signal", 1.0, "s", "ex", "BTC", True))
    finally:
        stop()
    report = bt.Performance.get_report("BTC", "s")
    assert "**Total events:** 3\nShowing the newest 3 of 5." in report
    assert stores.PERFORMANCE.seen(("BTC", "s", True)) == 5


def test_an_uncut_list_says_nothing_more():
    from btk_core.results import PerformanceContract
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    stop = bt.record_details()
    try:
        bt.events.performance.emit(PerformanceContract(1, None, "backtest_signal", 1.0, "s", "ex", "BTC", True))
    finally:
        stop()
    assert "Showing the newest" not in bt.Performance.get_report("BTC", "s")
