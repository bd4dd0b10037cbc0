"""SPEC §20.5: partial milestones and performance timings are recorded in every run without opting in, and a
report whose list was cut by its queue says so."""
import btk_core as bt
from btk_core.reports import stores
from tests.helpers import T0, ListSource, M, hourly_synthetic_day


def trending_run(minutes: int = 120) -> list:
    """One long on a steady climb: TP (+2.6 %) on the candle after the 90 % level: 9 milestones (the closing candle fires none)."""
    rows = [[T0 + k * M, 100 + k * 0.05, 100 + k * 0.05 + 0.02, 100 + k * 0.05 - 0.02, 100 + k * 0.05, 1.0]
            for k in range(minutes)]
    bt.add_exchange(exchange_name="ex", get_candles=ListSource({"1m": rows}))
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 11 * M)
    bt.add_strategy(strategy_name="s", interval="1m",
                    get_signal=lambda s, w: {"position": "long", "price_take_profit": 102.6, "price_stop_loss": 99,
                                             "minute_estimated_time": 600})
    return list(bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f"))


def test_partial_and_performance_are_complete_without_opting_in(fake_clock):
    fake_clock.now = T0 + 10_000 * M
    closed = trending_run()
    assert [c.close_reason for c in closed] == ["take_profit"]
    partial = bt.Partial.get_data("BTC", "s")
    assert [e.level for e in reversed(partial.event_list)] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert partial.total_profit == 9 and partial.total_loss == 0
    assert {e.delivery_id for e in partial.event_list} == {f"{closed[0].signal.id}:partial_profit:{lv}"
                                                           for lv in range(10, 91, 10)}
    timings = bt.Performance.get_data("BTC", "s")
    assert {"backtest_signal", "backtest_total"} <= set(timings.metric_stats)
    events = list(reversed(timings.events))  # wall ms from the installed clock, chained run by run
    assert all(fake_clock.now <= e.timestamp < fake_clock.now + 60_000 for e in events)
    assert [e.previous_timestamp for e in events] == [None] + [e.timestamp for e in events[:-1]]
    assert "No performance metrics recorded yet." not in bt.Performance.get_report("BTC", "s")


def test_a_listener_and_the_store_see_the_same_milestones(fake_clock):
    fake_clock.now = T0 + 10_000 * M
    heard: list = []
    bt.listen_partial_profit(heard.append)
    trending_run()
    assert list(reversed(bt.Partial.get_data("BTC", "s").event_list)) == heard


def test_a_cut_list_says_how_much_was_cut(fake_clock):
    fake_clock.now = T0 + 10_000 * M
    bt.set_config(CC_PARTIAL_MAX_EVENTS=3, CC_PERFORMANCE_MAX_EVENTS=1)
    trending_run()
    report = bt.Partial.get_report("BTC", "s")
    assert "**Total events:** 3\nShowing the newest 3 of 9." in report
    assert [e.level for e in bt.Partial.get_data("BTC", "s").event_list] == [90, 80, 70]
    seen = stores.PERFORMANCE.seen(("BTC", "s", True))
    assert seen > 1 and f"Showing the newest 1 of {seen}." in bt.Performance.get_report("BTC", "s")


def test_an_uncut_list_says_nothing_more(fake_clock):
    fake_clock.now = T0 + 10_000 * M
    trending_run()
    assert "Showing the newest" not in bt.Partial.get_report("BTC", "s")
    assert "Showing the newest" not in bt.Performance.get_report("BTC", "s")


def test_a_new_run_starts_with_empty_logs(fake_clock):
    fake_clock.now = T0 + 10_000 * M
    trending_run()
    list(bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f"))
    assert bt.Partial.get_data("BTC", "s").total_events == 9


def test_many_positions_cut_to_the_newest_equal_what_a_listener_hears(fake_clock):
    """Milestones computed at the end of a run for every position, cut to the store's size, are the newest of
    what a listener hears one by one, and the count covers them all."""
    start = hourly_synthetic_day("h")
    fake_clock.now = start + 40 * 24 * 60 * M
    bt.set_config(CC_PARTIAL_MAX_EVENTS=5)
    list(bt.Backtest.run("BTCUSDT", strategy_name="h", exchange_name="syn", frame_name="day"))
    quiet = bt.Partial.get_data("BTCUSDT", "h").event_list
    seen = stores.PARTIAL.seen(("BTCUSDT", "h", True))
    heard: list = []
    bt.listen_partial_profit(heard.append)
    bt.listen_partial_loss(heard.append)
    list(bt.Backtest.run("BTCUSDT", strategy_name="h", exchange_name="syn", frame_name="day"))
    assert seen == len(heard) > 10
    key = lambda e: (e.signal.pending_at, e.kind, e.level, e.timestamp, e.current_price)  # ids are new each run
    assert [key(e) for e in quiet] == [key(e) for e in reversed(heard[-5:])]
