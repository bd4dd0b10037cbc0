"""Batch signals (``get_signals``): the same state machine as ``get_signal``, proved by identical results."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import btk_core as bt
from btk_core import clock
from btk_core.errors import BtkError, SchemaValidationError, SignalValidationError, UserCodeError
from btk_core.exchanges import add_synthetic_exchange, synthetic_candles

DAY = 1717200000000  # 2024-06-01
M = 60_000


def sma(values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        out[n - 1:] = np.add.reduce(np.lib.stride_tricks.sliding_window_view(values, n), axis=1) / n
    return out


STEPS = {"1m": M, "5m": 5 * M, "15m": 15 * M}


def decide(closes: np.ndarray, when: int, interval: str) -> dict | None:
    """SMA 3/8 cross of the candles' closes at their last candle: long with a limit entry below the
    close, short at market; TP/SL from the close; the id is made from the decision time."""
    if len(closes) < 9:
        return None
    when -= when % STEPS[interval]  # the close time of the last candle: same id both ways
    fast, slow = closes[-3:].mean(), closes[-8:].mean()
    fast_before, slow_before = closes[-4:-1].mean(), closes[-9:-1].mean()
    close = float(closes[-1])
    if fast > slow and fast_before <= slow_before:
        return {"position": "long", "price_open": close * 0.999, "price_take_profit": close * 1.008,
                "price_stop_loss": close * 0.993, "minute_estimated_time": 90, "note": "up", "id": f"s{when}"}
    if fast < slow and fast_before >= slow_before:
        return {"position": "short", "price_take_profit": close * 0.992, "price_stop_loss": close * 1.007,
                "minute_estimated_time": 60, "note": "down", "id": f"s{when}"}
    return None


def event_form(interval: str):
    def get_signal(symbol, when):
        closes = bt.get_candles(symbol, interval, 9).close
        return decide(closes, int(when.timestamp() * 1000), interval)
    return get_signal


def batch_form(interval: str):
    step = STEPS[interval]

    def get_signals(symbol, candles):
        rows = {}
        for k in range(len(candles)):
            when = int(candles.timestamp[k]) + step  # decided when the candle closes
            answer = decide(candles.close[max(0, k - 8):k + 1], when, interval)
            if answer:
                rows[when] = answer
        return pd.DataFrame.from_dict(rows, orient="index")
    return get_signals


def trades(results):
    """What a run produced, without the strategy's name (the two forms are registered under two names)."""
    from dataclasses import replace
    return [(r.action, replace(r.signal, strategy_name="-"), getattr(r, "close_reason", getattr(r, "reason", None)), r.close_timestamp,
             r.current_price) for r in results]


def both_ways(interval="5m", frame_interval="1m", hours=24, risk=None, **strategy):
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval=frame_interval, start_date=DAY, end_date=DAY + hours * 60 * M)
    bt.add_strategy(strategy_name="event", interval=interval, get_signal=event_form(interval), risk_name=risk,
                    **strategy)
    bt.add_strategy(strategy_name="batch", interval=interval, get_signals=batch_form(interval), lookback=9,
                    risk_name=risk, **strategy)


@pytest.mark.parametrize("interval,frame_interval", [("5m", "1m"), ("5m", "5m"), ("1m", "1m"), ("15m", "5m")])
def test_identical_results_both_ways(interval, frame_interval, monkeypatch):
    from btk_core.pair_machine import PairMachine
    both_ways(interval, frame_interval)
    swept = []
    original = PairMachine.record

    def counted(self, result):  # each pair is alone and unobserved: its trades entered at once come from the sweep
        swept.append(result)
        original(self, result)

    monkeypatch.setattr(PairMachine, "record", counted)
    event = trades(bt.Backtest.run("BTCUSDT", strategy_name="event", exchange_name="syn", frame_name="f"))
    batch = trades(bt.Backtest.run("BTCUSDT", strategy_name="batch", exchange_name="syn", frame_name="f"))
    assert len(event) > 5 and {t[0] for t in event} >= {"closed"}
    assert batch == event
    at_once = [t for t in batch if t[0] == "closed" and t[1].pending_at == t[1].scheduled_at]
    for name in ("event", "batch"):  # entries that waited for their price went to the general loop and back
        assert sum(r.strategy_name == name for r in swept) == len(at_once) > 0


def test_identical_with_shared_risk_in_a_portfolio():
    bt.add_risk(risk_name="one", validations=[lambda p: "busy" if p.active_position_count >= 1 else None])
    both_ways(risk="one")
    event = trades(bt.Backtest.run_portfolio([("BTCUSDT", "event"), ("ETHUSDT", "event")], exchange_name="syn",
                                             frame_name="f"))
    rejections = bt.Risk.get_data("BTCUSDT", "event").total_rejections + \
        bt.Risk.get_data("ETHUSDT", "event").total_rejections
    batch = trades(bt.Backtest.run_portfolio([("BTCUSDT", "batch"), ("ETHUSDT", "batch")], exchange_name="syn",
                                             frame_name="f"))
    assert batch == event and rejections > 0
    assert rejections == bt.Risk.get_data("BTCUSDT", "batch").total_rejections + \
        bt.Risk.get_data("ETHUSDT", "batch").total_rejections


def test_identical_events_when_observed():
    both_ways(hours=6)
    seen = {"event": [], "batch": []}
    bt.listen_signal_backtest(lambda r: seen[r.strategy_name].append((r.action, r.timestamp, r.current_price)))
    for name in seen:
        list(bt.Backtest.run("BTCUSDT", strategy_name=name, exchange_name="syn", frame_name="f"))
    assert seen["batch"] == seen["event"]
    assert sum(a == "idle" for a, _, _ in seen["event"]) > 50


def test_validation_errors_are_the_same(errors):
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="1m", start_date=DAY, end_date=DAY + 60 * M)
    bad = {"position": "long", "price_take_profit": 1.0, "price_stop_loss": 2.0, "minute_estimated_time": 10}
    bt.add_strategy(strategy_name="event", interval="15m", get_signal=lambda s, w: bad)
    bt.add_strategy(strategy_name="batch", interval="15m", lookback=1,
                    get_signals=lambda s, c: pd.DataFrame([bad] * len(c), index=c.timestamp + 15 * M))
    for name in ("event", "batch"):
        assert list(bt.Backtest.run("BTCUSDT", strategy_name=name, exchange_name="syn", frame_name="f")) == []
    validation = [str(e) for e in errors if isinstance(e, SignalValidationError)]
    assert len(validation) == 2 * 5 and validation[:5] == validation[5:]  # steps 0, 15, 30, 45, 60


def test_a_datetime_index_and_sparse_columns_are_read():
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="1m", start_date=DAY, end_date=DAY + 120 * M)

    def get_signals(symbol, candles):
        when = pd.to_datetime([DAY + 30 * M, DAY + 31 * M], unit="ms", utc=True)
        price = float(candles.close[-1])
        return pd.DataFrame({"position": ["short", None], "price_take_profit": [price * 0.9, np.nan],
                             "price_stop_loss": [price * 1.1, np.nan], "minute_estimated_time": [20.0, np.nan]},
                            index=when)

    bt.add_strategy(strategy_name="batch", interval="1m", get_signals=get_signals)
    (result,) = bt.Backtest.run("BTCUSDT", strategy_name="batch", exchange_name="syn", frame_name="f")
    assert result.signal.pending_at == DAY + 30 * M and result.close_reason == "time_expired"
    assert result.signal.minute_estimated_time == 20 and result.signal.position == "short"


@pytest.mark.parametrize("answer,message", [
    (lambda s, c: 1 / 0, "get_signals raised ZeroDivisionError"),
    (lambda s, c: [{"position": "long"}], "must return a pandas DataFrame, got list"),
    (lambda s, c: pd.DataFrame({"position": ["long"], "take": [1.0]}, index=[DAY]), r"unknown column\(s\) \['take'\]"),
    (lambda s, c: pd.DataFrame({"note": ["x"]}, index=[DAY]), "needs a 'position' column"),
    (lambda s, c: pd.DataFrame({"position": ["long", "long"]}, index=[DAY, DAY]), "must be unique"),
    (lambda s, c: pd.DataFrame({"position": ["long"]}, index=["x"]), "integer ms or a DatetimeIndex"),
])
def test_bad_batch_results_are_errors_and_the_run_goes_on(errors, answer, message):
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="1m", start_date=DAY, end_date=DAY + 30 * M)
    bt.add_strategy(strategy_name="batch", interval="1m", get_signals=answer)
    assert list(bt.Backtest.run("BTCUSDT", strategy_name="batch", exchange_name="syn", frame_name="f")) == []
    assert len(errors) == 1 and isinstance(errors[0], (BtkError, UserCodeError))
    assert errors[0].args[0] and __import__("re").search(message, str(errors[0]))
    assert "batch" in str(errors[0]) or errors[0].strategy_name == "batch"


def test_text_in_a_number_column_is_a_validation_error_not_a_crash(errors):
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="1m", start_date=DAY, end_date=DAY + 30 * M)
    bt.add_strategy(strategy_name="batch", interval="1m", get_signals=lambda s, c: pd.DataFrame(
        {"position": ["long"], "price_take_profit": [1e9], "price_stop_loss": [1.0], "minute_estimated_time": ["soon"]},
        index=[DAY + 5 * M]))
    assert list(bt.Backtest.run("BTCUSDT", strategy_name="batch", exchange_name="syn", frame_name="f")) == []
    assert any(isinstance(e, SignalValidationError) and "minute_estimated_time" in str(e) for e in errors)


def test_schema_needs_exactly_one_signal_function():
    with pytest.raises(SchemaValidationError, match="exactly one of get_signal and get_signals"):
        bt.add_strategy(strategy_name="none", interval="1m")
    with pytest.raises(SchemaValidationError, match="exactly one of get_signal and get_signals"):
        bt.add_strategy(strategy_name="two", interval="1m", get_signal=lambda s, w: None,
                        get_signals=lambda s, c: None)
    with pytest.raises(SchemaValidationError, match="lookback must be an int >= 1, got 0"):
        bt.add_strategy(strategy_name="lb", interval="1m", get_signals=lambda s, c: None, lookback=0)


def test_live_uses_the_row_of_the_tick_like_get_signal(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path / "state"))
    both_ways(hours=8)
    results = {}
    for name in ("event", "batch"):
        fake_clock.now = DAY

        def sleep(seconds, name=name):
            fake_clock.now += int(seconds * 1000)
            if fake_clock.now >= DAY + 8 * 60 * M:
                bt.Live.stop("BTCUSDT", name)
        clock.set_clock(fake_clock.now_ms, sleep)
        results[name] = [(r.action, r.signal.id, r.signal.pending_at, r.current_price, r.timestamp)
                         for r in bt.Live.run("BTCUSDT", strategy_name=name, exchange_name="syn")]
    assert len(results["event"]) > 4 and results["batch"] == results["event"]


# ---- property: random signal tables, every throttle/frame geometry ------------------------------------------

INTERVALS = {"1m": M, "3m": 3 * M, "5m": 5 * M, "15m": 15 * M}


@st.composite
def tables(draw):
    interval = draw(st.sampled_from(list(INTERVALS)))
    frame_interval = draw(st.sampled_from(["1m", "5m"]))
    every = INTERVALS[interval] // M
    minutes = [k * every for k in draw(st.lists(st.integers(0, 360 // every), max_size=40, unique=True))]
    rows = {}
    for minute in minutes:
        rows[DAY + minute * M] = {
            "position": draw(st.sampled_from(["long", "short"])),
            "scheduled": draw(st.booleans()),
            "tp": draw(st.floats(0.006, 0.03)), "sl": draw(st.floats(0.006, 0.03)),
            "life": draw(st.integers(5, 120)),
        }
    return interval, frame_interval, rows


def answer_at(rows, when, price):
    spec = rows.get(when)
    if spec is None:
        return None
    sign = 1 if spec["position"] == "long" else -1
    entry = price * (1 - sign * 0.001) if spec["scheduled"] else price
    answer = {"position": spec["position"], "price_take_profit": entry * (1 + sign * spec["tp"]),
              "price_stop_loss": entry * (1 - sign * spec["sl"]), "minute_estimated_time": spec["life"],
              "id": f"r{when}"}
    if spec["scheduled"]:
        answer["price_open"] = entry
    return answer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables())
def test_property_batch_equals_event_for_any_table(geometry):
    """Prices come from a fixed reference (the first close), so both forms can build the same answers."""
    bt.reset_all()  # Hypothesis runs many examples inside one test: each starts like a fresh process
    interval, frame_interval, rows = geometry
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval=frame_interval, start_date=DAY, end_date=DAY + 6 * 60 * M)
    price = 67000.0

    def get_signal(symbol, when):  # the row of the last closed candle of the interval, as the batch form reads it
        ms = int(when.timestamp() * 1000)
        return answer_at(rows, ms - ms % INTERVALS[interval], price)

    def get_signals(symbol, candles):
        found = {t: answer_at(rows, t, price) for t in rows}
        return pd.DataFrame.from_dict({t: a for t, a in found.items() if a}, orient="index",
                                      columns=["position", "price_open", "price_take_profit", "price_stop_loss",
                                               "minute_estimated_time", "id"])

    bt.add_strategy(strategy_name="event", interval=interval, get_signal=get_signal)
    bt.add_strategy(strategy_name="batch", interval=interval, get_signals=get_signals, lookback=1)
    event = trades(bt.Backtest.run("BTCUSDT", strategy_name="event", exchange_name="syn", frame_name="f"))
    batch = trades(bt.Backtest.run("BTCUSDT", strategy_name="batch", exchange_name="syn", frame_name="f"))
    assert batch == event


# ---- look-ahead check ----------------------------------------------------------------------------------------

def crossing_signals(peek: int):
    """SMA 3/8 cross on 5m closes; ``peek`` > 0 reads that many candles ahead (a look-ahead bug)."""
    def get_signals(symbol, candles):
        close = pd.Series(candles.close).shift(-peek) if peek else pd.Series(candles.close)
        fast, slow = close.rolling(3).mean(), close.rolling(8).mean()
        cross = (fast > slow) & (fast.shift(1) <= slow.shift(1))
        k = np.flatnonzero(cross.to_numpy())
        price = candles.close[k]
        return pd.DataFrame({"position": "long", "price_take_profit": price * 1.01, "price_stop_loss": price * 0.99,
                             "minute_estimated_time": 60}, index=candles.timestamp[k] + 5 * M)
    return get_signals


def test_check_lookahead_passes_an_honest_strategy():
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="5m", start_date=DAY, end_date=DAY + 48 * 60 * M)
    bt.add_strategy(strategy_name="honest", interval="5m", get_signals=crossing_signals(0), lookback=10)
    assert 30 <= bt.check_lookahead("BTCUSDT", "honest", "syn", "f", samples=40) <= 40  # the two pools overlap


def test_check_lookahead_names_the_first_time_a_peeking_strategy_changes():
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="5m", start_date=DAY, end_date=DAY + 48 * 60 * M)
    bt.add_strategy(strategy_name="peeks", interval="5m", get_signals=crossing_signals(1), lookback=10)
    with pytest.raises(bt.LookAheadError, match=r"peeks on BTCUSDT: the signal at 2024-06-0.T.* changes") as info:
        bt.check_lookahead("BTCUSDT", "peeks", "syn", "f")
    assert info.value.timestamp % (5 * M) == 0 and DAY <= info.value.timestamp <= DAY + 48 * 60 * M
    assert info.value.strategy_name == "peeks" and info.value.symbol == "BTCUSDT"


def test_check_lookahead_refuses_event_strategies():
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="5m", start_date=DAY, end_date=DAY + 60 * M)
    bt.add_strategy(strategy_name="event", interval="5m", get_signal=lambda s, w: None)
    with pytest.raises(BtkError, match="needs a batch strategy"):
        bt.check_lookahead("BTCUSDT", "event", "syn", "f")


# ---- the sweep: a pair nobody observes, traded without the notices in between ------------------------------------

@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables(), st.sampled_from([4, 60, 100_000]))
def test_property_the_sweep_equals_the_general_loop(monkeypatch, geometry, now_minute):
    """Same results, statistics, schedule and milestone reports with and without ``modes/sweep.py``, in both
    forms, for tables that mix entries at once and limit entries (handed to the general loop and back),
    invalid rows, and data ending mid-position."""
    from btk_core.modes import backtest as loop
    bt.reset_all()
    interval, frame_interval, rows = geometry
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval=frame_interval, start_date=DAY, end_date=DAY + 6 * 60 * M)
    clock.set_clock(lambda: DAY + now_minute * 60 * M)
    first_close = float(synthetic_candles("BTCUSDT", DAY // M, 1)[4][0])  # answers around it mostly trade

    def get_signals(symbol, candles):
        found = {t: answer_at(rows, t, first_close) for t in rows}
        return pd.DataFrame.from_dict({t: a for t, a in found.items() if a}, orient="index",
                                      columns=["position", "price_open", "price_take_profit", "price_stop_loss",
                                               "minute_estimated_time", "id"])

    def get_signal(symbol, when):  # the row of the last closed candle of the interval, as the batch form reads it
        ms = int(when.timestamp() * 1000)
        return answer_at(rows, ms - ms % INTERVALS[interval], first_close)

    bt.add_strategy(strategy_name="batch", interval=interval, get_signals=get_signals, lookback=1)
    bt.add_strategy(strategy_name="event", interval=interval, get_signal=get_signal)
    swept = []
    original = loop.sweep

    def counted(lane, run):
        swept.append(1)
        return (yield from original(lane, run))

    def outcome(name):
        results = trades(bt.Backtest.run("BTCUSDT", strategy_name=name, exchange_name="syn", frame_name="f"))
        partial = bt.Partial.get_data("BTCUSDT", name)
        statistics = bt.Backtest.get_data("BTCUSDT", name)
        return (results, [(r.signal.id, r.pnl) for r in statistics.signal_list], statistics.total_signals,
                bt.Schedule.get_data("BTCUSDT", name).total_scheduled,
                [(e.level, e.timestamp, e.current_price, e.kind, e.signal.id) for e in partial.event_list],
                partial.total_events)

    try:
        with monkeypatch.context() as patch:  # undone before Hypothesis's next example
            patch.setattr(loop, "sweep", counted)
            fast = [outcome(name) for name in ("batch", "event")]
            patch.setattr(loop, "can_sweep", lambda run: False)
            general = [outcome(name) for name in ("batch", "event")]
    finally:
        clock.set_clock()
    assert fast == general
    assert fast[0] == fast[1]
    assert len(swept) >= 2


def test_a_listener_subscribed_by_get_signal_sees_every_result_from_then_on():
    """The sweep skips notices only while nobody listens: a strategy that subscribes mid-run gets exactly what
    a listener subscribed before the run sees from that time on."""
    both_ways(hours=12)
    inner = event_form("5m")
    switch_at = DAY + 6 * 60 * M
    seen: dict[str, list] = {"late": [], "early": []}
    subscribed = []

    def late(symbol, when):
        if not subscribed and when.timestamp() * 1000 >= switch_at:
            subscribed.append(bt.listen_signal_backtest(lambda r: seen["late"].append((r.action, r.timestamp))))
        return inner(symbol, when)

    bt.add_strategy(strategy_name="late", interval="5m", get_signal=late)
    late_results = trades(bt.Backtest.run("BTCUSDT", strategy_name="late", exchange_name="syn", frame_name="f"))
    subscribed[0]()
    unsubscribe = bt.listen_signal_backtest(lambda r: seen["early"].append((r.action, r.timestamp)))
    early_results = trades(bt.Backtest.run("BTCUSDT", strategy_name="event", exchange_name="syn", frame_name="f"))
    unsubscribe()
    assert late_results == early_results
    from_switch = [e for e in seen["early"] if e[1] >= switch_at]
    # everything from the subscribing call on (a close delivered at that step before the call is not seen)
    assert seen["late"] == seen["early"][-len(seen["late"]):] and len(seen["late"]) >= len(from_switch) - 1
    assert {"opened", "closed"} <= {a for a, _ in seen["late"]}


def test_progress_can_be_read_without_listening(monkeypatch):
    """``Backtest.progress()`` says how far a running pair is (what a progress bar polls), and reading it leaves
    the run unobserved: its trades still come from the sweep."""
    from btk_core.pair_machine import PairMachine
    both_ways(hours=6)
    inner = event_form("5m")
    seen = []

    def reading(symbol, when):
        seen.append(((int(when.timestamp() * 1000) - DAY) // M, bt.Backtest.progress()))
        return inner(symbol, when)

    bt.add_strategy(strategy_name="reading", interval="5m", get_signal=reading)
    swept = []
    original = PairMachine.record
    monkeypatch.setattr(PairMachine, "record", lambda self, result: (swept.append(result), original(self, result)))
    results = list(bt.Backtest.run("BTCUSDT", strategy_name="reading", exchange_name="syn", frame_name="f"))
    assert swept and len(swept) == len([r for r in results if r.signal.pending_at == r.signal.scheduled_at])
    for minute, (progress,) in seen:  # one running pair, at the frame step being asked (a 1m frame of 361 steps)
        assert (progress.symbol, progress.strategy_name, progress.total_frames) == ("BTCUSDT", "reading", 361)
        assert progress.processed_frames == minute and progress.progress == minute / 361
    assert bt.Backtest.progress() == ()
