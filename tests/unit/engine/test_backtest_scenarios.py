"""SPEC §4 and §7 scenarios through Backtest.run."""
import asyncio
import threading

import pytest

import btk_core as bt
from tests.helpers import T0, M, Scenario, mins


@pytest.fixture(autouse=True)
def far_future(fake_clock):
    fake_clock.now = T0 + 100 * 24 * 60 * M
    return fake_clock


def long_signal(**kw):
    return {"position": "long", "price_take_profit": 101, "price_stop_loss": 99, "minute_estimated_time": 60, **kw}


# ---- throttling (§4.3, §7.3) ------------------------------------------------------
@pytest.mark.parametrize("interval, frame, expected", [
    ("1m", (0, 5), [0, 1, 2, 3, 4, 5]),
    ("5m", (0, 20), [0, 5, 10, 15, 20]),
    ("1h", (0, 180), [0, 60, 120, 180]),
])
def test_throttle_calls(interval, frame, expected):
    sc = Scenario(signals={}, interval=interval, frame=frame)
    assert sc.run() == []
    assert sc.calls == expected


@pytest.mark.parametrize("observe", [False, True])
def test_skipping_unobserved_steps_changes_nothing(observe):
    sc = Scenario({12: (100, 101.5, 99.9, 101)}, {10: long_signal(), 15: long_signal()}, interval="5m", frame=(0, 40))
    if not observe:
        bt.events.reset_listeners()
    out = sc.run()
    assert sc.calls == [0, 5, 10, 15]  # the second trade expires at m75, past the frame: the rest is skipped
    assert [mins(r.close_timestamp) for r in out] == [13.0, 75.0]


def test_idle_results_at_every_step_when_observed():
    sc = Scenario(signals={}, interval="5m", frame=(0, 6))
    sc.run()
    idle = [r for r in sc.results if r.action == "idle"]
    assert [mins(r.timestamp) for r in idle] == [0, 1, 2, 3, 4, 5, 6]
    assert all(r.current_price == 100.0 and r.signal is None for r in idle)


def test_5m_strategy_resumes_at_next_due_step():
    # example A on a 5m strategy: close at T0+13m; m13 is not due (last call m10), next call at m15
    sc = Scenario({10: (100, 100.45, 99.9, 100.3), 11: (100.3, 100.85, 100.2, 100.7),
                   12: (100.7, 101.2, 100.6, 101.1)}, {10: long_signal()}, interval="5m", frame=(0, 30))
    sc.run()
    assert sc.calls == [0, 5, 10, 15, 20, 25, 30]


def test_coarse_frame_resumes_at_next_frame_timestamp():
    # 1h frame: a signal opened at 00:00 that expires at 00:10 lets the next step run at 01:00
    sc = Scenario(signals={0: long_signal(price_take_profit=105, price_stop_loss=95, minute_estimated_time=10)},
                  frame=(0, 180), frame_interval="1h")
    (closed,) = sc.run()
    assert closed.close_reason == "time_expired" and closed.close_timestamp == T0 + 10 * M
    assert sc.calls == [0, 60, 120, 180]


def test_first_candle_take_profit_resumes_next_minute():
    sc = Scenario({0: (100, 101.5, 99.9, 101)}, {0: long_signal()}, frame=(0, 3))
    (closed,) = sc.run()
    assert closed.close_timestamp == T0 + M and sc.calls == [0, 1, 2, 3]


def test_frame_example_has_21_timestamps():
    sc = Scenario(signals={}, frame=(0, 20))
    sc.run()
    assert len(sc.calls) == 21


def test_trade_beyond_the_frame_end_is_yielded_and_skips_the_rest():
    sc = Scenario(signals={15: long_signal(price_take_profit=105, price_stop_loss=95, minute_estimated_time=60)},
                  frame=(0, 20))
    (closed,) = sc.run()
    assert closed.close_reason == "time_expired" and closed.close_timestamp == T0 + 75 * M
    assert sc.calls == list(range(16))


# ---- bad strategies (§3.6, §3.7) -----------------------------------------------------
def test_invalid_signal_is_an_error_and_an_idle_step():
    sc = Scenario(signals={0: long_signal(price_take_profit=100.1), 1: long_signal()}, frame=(0, 1))
    out = sc.run()
    assert [type(e) for e in sc.errors] == [bt.SignalValidationError]
    assert "take profit too close" in str(sc.errors[0])
    first = [r for r in sc.results if r.timestamp == T0][0]
    assert first.action == "idle" and first.current_price == 100.0
    assert sc.calls == [0, 1] and len(out) == 1  # the run continued


def test_raising_get_signal_is_reported_and_run_continues():
    def boom(symbol, when):
        raise KeyError("nope")

    sc = Scenario(signals={0: boom, 2: long_signal()}, frame=(0, 2))
    assert len(sc.run()) == 1
    (err,) = sc.errors
    assert isinstance(err, bt.UserCodeError) and err.where == "get_signal" and isinstance(err.__cause__, KeyError)
    assert (err.symbol, err.strategy_name) == ("BTC", "s")


def test_slow_get_signal_result_is_discarded(far_future):
    bt.set_config(CC_MAX_SIGNAL_GENERATION_SECONDS=2)

    def slow(symbol, when):
        far_future.now += 2001
        return long_signal()

    sc = Scenario(signals={0: slow}, frame=(0, 1))
    assert sc.run() == []
    assert [type(e) for e in sc.errors] == [bt.SignalTimeoutError]
    assert str(sc.errors[0]) == "Timeout for s symbol=BTC"
    assert sc.calls == [0, 1]


def test_async_get_signal_and_its_timeout():
    bt.set_config(CC_MAX_SIGNAL_GENERATION_SECONDS=1)
    seen = []

    async def strategy(symbol, when):
        seen.append(bt.get_date())
        if len(seen) == 1:
            await asyncio.sleep(5)
        return long_signal() if len(seen) == 2 else None

    Scenario(signals={})  # registers exchange/frame
    bt.add_strategy(strategy_name="a", interval="1m", get_signal=strategy)
    out = list(bt.Backtest.run("BTC", strategy_name="a", exchange_name="ex", frame_name="f"))
    assert isinstance(bt.list_strategies()[0], bt.StrategySchema)
    assert out and out[0].signal.pending_at == T0 + 11 * M
    assert seen[0].minute == 10 and seen[1].minute == 11


def test_context_helpers_inside_get_signal():
    seen = {}

    def peek(symbol, when):
        seen["candles"] = bt.get_candles(symbol, "1m", 2).timestamp.tolist()
        seen["vwap"] = bt.get_average_price(symbol)
        seen["mode"] = bt.get_mode()
        seen["date"] = bt.get_date()
        return None

    sc = Scenario(signals={12: peek}, frame=(12, 12))
    sc.run()
    assert seen["candles"] == [T0 + 10 * M, T0 + 11 * M] and seen["vwap"] == 100.0 and seen["mode"] == "backtest"
    assert seen["date"] == sc.bt.get_date.__globals__["to_datetime"](T0 + 12 * M)


# ---- cancel and stop (§7.7, §5.4) ---------------------------------------------------
def waiting(**kw):
    return {"position": "long", "price_open": 97, "price_take_profit": 99, "price_stop_loss": 96,
            "minute_estimated_time": 60, **kw}


def test_cancel_from_on_ping_takes_effect_at_that_candle_end():
    def on_ping(symbol, signal, when, backtest):
        if when.minute == 13:
            assert bt.Backtest.cancel(symbol, "s", "my-id") is True

    sc = Scenario(signals={10: waiting()}, callbacks={"on_ping": on_ping})
    (cancelled,) = sc.run()
    assert (cancelled.reason, cancelled.cancel_id, cancelled.close_timestamp) == ("user", "my-id", T0 + 13 * M)
    assert cancelled.current_price == 100.0
    assert sc.calls[:2] == [10, 13]


def test_cancel_without_waiting_row_returns_false():
    Scenario(signals={})
    assert bt.Backtest.cancel("BTC", "s") is False


def test_cancel_from_on_schedule_resumes_at_the_same_step():
    def on_schedule(symbol, signal, price, backtest):
        bt.Backtest.cancel(symbol, "s")

    sc = Scenario(signals={10: waiting()}, callbacks={"on_schedule": on_schedule}, frame=(10, 12))
    (cancelled,) = sc.run()
    assert cancelled.close_timestamp == T0 + 10 * M and cancelled.reason == "user"
    assert sc.calls == [10, 11, 12]


def test_stop_cancels_waiting_row_and_ends():
    def on_ping(symbol, signal, when, backtest):
        bt.Backtest.stop(symbol, "s")

    sc = Scenario(signals={10: waiting()}, callbacks={"on_ping": on_ping})
    (cancelled,) = sc.run()
    assert (cancelled.reason, cancelled.cancel_id, cancelled.close_timestamp) == ("user", None, T0 + 11 * M)
    assert sc.calls == [10]


def test_stop_lets_a_position_complete():
    def on_open(symbol, signal, price, backtest):
        bt.Backtest.stop(symbol, "s")

    sc = Scenario({12: (100, 101.5, 99.9, 101)}, {10: long_signal()}, callbacks={"on_open": on_open})
    (closed,) = sc.run()
    assert closed.close_reason == "take_profit" and sc.calls == [10]


def test_cancel_request_wins_over_stop():
    def on_ping(symbol, signal, when, backtest):
        bt.Backtest.stop(symbol, "s")
        bt.Backtest.cancel(symbol, "s", "cid")

    sc = Scenario(signals={10: waiting()}, callbacks={"on_ping": on_ping})
    assert sc.run()[0].cancel_id == "cid"


def test_stop_during_get_signal_discards_its_answer():
    def stopping(symbol, when):
        bt.Backtest.stop(symbol, "s")
        return long_signal()

    sc = Scenario(signals={10: stopping})
    assert sc.run() == [] and sc.calls == [10]


# ---- unresolved and data problems (§7.4, §7.5) -------------------------------------
def test_unresolved_row_at_now_is_reported_active(far_future):
    far_future.now = T0 + 30 * M + 20_000
    sc = Scenario(signals={10: long_signal(price_take_profit=105, price_stop_loss=95)}, frame=(0, 60),
                  history=(-200, 30))
    assert sc.run() == []
    active = sc.results[-1]
    assert active.action == "active" and active.timestamp == T0 + 30 * M and active.current_price == 100.0
    assert (active.percent_tp, active.percent_sl) == (0.0, 0.0)
    assert bt.Backtest.get_pending_signal("BTC", "s").price_open == 100.0
    assert bt.Backtest.get_data("BTC", "s").total_signals == 0


def test_gap_minutes_are_skipped():
    sc = Scenario({11: (100, 101.5, 99.9, 101)}, {10: long_signal()}, history=(-200, 2000))
    rows = [r for r in sc.bt.list_exchanges()[0].get_candles.candles["1m"] if r[0] != T0 + 10 * M]
    sc.bt.list_exchanges()[0].get_candles.candles["1m"] = rows
    (closed,) = sc.run()
    assert closed.close_timestamp == T0 + 12 * M


def test_failing_fast_forward_retries_at_each_step_and_keeps_the_row():
    # candles stop at m20; the VWAP for the expiry at m30 has no candle -> error each step, no yield
    sc = Scenario(signals={10: long_signal(price_take_profit=105, price_stop_loss=95, minute_estimated_time=20)},
                  frame=(0, 40), history=(-200, 21))
    sc.bt.set_config(CC_GET_CANDLES_RETRY_COUNT=1)
    assert sc.run() == []
    price_errors = [e for e in sc.errors if isinstance(e, bt.AveragePriceError)]
    assert len(price_errors) == 31  # the open step m10 and each remaining step m11..m40
    assert not any(r.action == "active" for r in sc.results)


def test_failed_vwap_at_due_step_uses_the_slot():
    # no candle before m1: the due step at m0 fails before get_signal; the 5m slot is used anyway
    sc = Scenario(signals={}, frame=(0, 5), history=(1, 2000), interval="5m")
    sc.run()
    assert [type(e) for e in sc.errors] == [bt.AveragePriceError] and sc.calls == [5]


# ---- order of side effects (§4.6) and run bookkeeping --------------------------------
def test_callback_and_listener_order():
    log = []
    cb = {name: (lambda n: lambda *a: log.append(n))(name)
          for name in ("on_open", "on_close", "on_tick", "on_write", "on_schedule", "on_idle")}
    sc = Scenario({12: (100, 101.5, 99.9, 101)}, {10: long_signal()}, callbacks=cb, frame=(10, 10))
    bt.listen_signal_backtest(lambda r: log.append(f"backtest:{r.action}"))
    bt.listen_signal(lambda r: log.append(f"signal:{r.action}"))
    sc.run()
    assert log == ["on_write", "on_open", "on_tick", "backtest:opened", "signal:opened",
                   "on_close", "on_write", "on_tick", "backtest:closed", "signal:closed"]


def test_raising_callback_does_not_break_the_run():
    def bad(*a):
        raise ValueError("cb")

    sc = Scenario({12: (100, 101.5, 99.9, 101)}, {10: long_signal()}, callbacks={"on_open": bad})
    assert len(sc.run()) == 1
    assert sc.errors[0].where == "on_open"


def test_already_running_and_release():
    Scenario(signals={})
    handle = bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f")
    with pytest.raises(bt.AlreadyRunningError, match="symbol=BTC strategy=s"):
        bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f")
    handle.close()
    list(bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f"))
    assert [(s.symbol, s.status) for s in bt.Backtest.list()] == [("BTC", "done")]


def test_unknown_names_raise_when_run_is_called():
    Scenario(signals={})
    for kw in ({"strategy_name": "x"}, {"exchange_name": "x"}, {"frame_name": "x"}):
        args = {"strategy_name": "s", "exchange_name": "ex", "frame_name": "f", **kw}
        with pytest.raises(bt.UnknownNameError):
            bt.Backtest.run("BTC", **args)
    with pytest.raises(bt.UnknownNameError):
        bt.Backtest.get_data("BTC", "nope")


def test_breaking_out_emits_done_once_and_progress():
    done, progress = [], []
    Scenario({12: (100, 101.5, 99.9, 101), 31: (100, 101.5, 99.9, 101)},
             {10: long_signal(), 30: long_signal()}, frame=(10, 40))
    bt.listen_done_backtest(done.append)
    bt.listen_backtest_progress(progress.append)
    for _ in bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f"):
        break
    assert len(done) == 1 and done[0] == bt.DoneContract("ex", "s", True, "BTC")
    assert progress[0].processed_frames == 0 and progress[-1].progress == 1.0
    assert progress[-1].processed_frames == progress[-1].total_frames == 31


def test_performance_events_chain():
    perf = []
    sc = Scenario({12: (100, 101.5, 99.9, 101)}, {10: long_signal()}, frame=(10, 14))
    bt.listen_performance(perf.append)
    sc.run()
    kinds = [p.metric_type for p in perf]
    assert kinds == ["backtest_signal", "backtest_timeframe", "backtest_timeframe", "backtest_total"]
    assert perf[0].previous_timestamp is None and all(p.previous_timestamp == q.timestamp for q, p in zip(perf, perf[1:]))


def test_statistics_after_a_run_and_background():
    Scenario({12: (100, 101.5, 99.9, 101), 31: (100, 100.1, 98.5, 99)}, {10: long_signal(), 30: long_signal()},
             frame=(10, 40))
    done = threading.Event()
    bt.listen_done_backtest(lambda e: done.set())
    stop = bt.Backtest.background("BTC", strategy_name="s", exchange_name="ex", frame_name="f")
    assert done.wait(10) and callable(stop)
    stats = bt.Backtest.get_data("BTC", "s")
    assert stats.total_signals == 2 and (stats.win_count, stats.loss_count) == (1, 1)
    assert stats.signal_list[0].close_reason == "stop_loss"  # newest first
    assert bt.Backtest.get_data("ETH", "s").total_signals == 0


def test_defective_candle_is_a_minute_without_trading():
    # m11 would take profit, but its low is above its body: excluded, reported once, the trade goes on
    sc = Scenario({11: (100, 101.5, 100.9, 101), 15: (100, 101.5, 99.9, 101)}, {10: long_signal()})
    (closed,) = sc.run()
    assert closed.close_timestamp == T0 + 16 * M
    defects = [e for e in sc.errors if isinstance(e, bt.CandleDefectError)]
    assert len(defects) == 1 and defects[0].defects == ((T0 + 11 * M, "low > min(open, close)"),)
