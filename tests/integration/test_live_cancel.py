"""Cancelling the live flow (the runner's SIGTERM) and Ctrl-C map to Live.halt: the run ends after the tick,
every row stays persisted for the next run, then Prefect's own handler gets a SIGTERM."""
import json
import os
import signal

import pytest

import btk_core as bt
from btk_core import clock
from flows.live import halt_on_signals
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table


class Cancelled(BaseException):
    """Stands for Prefect's TerminationSignal raised by its SIGTERM bridge."""


def prefect_like_handler(calls):
    def handler(signum, frame):
        calls.append(signum)
        raise Cancelled()
    return handler


def run_until_signal(fake_clock, at_tick, signum=signal.SIGTERM):
    ticks = []

    def sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        ticks.append(fake_clock.now)
        if len(ticks) == at_tick:
            os.kill(os.getpid(), signum)
        assert len(ticks) < 100, "the loop did not stop"

    clock.set_clock(fake_clock.now_ms, sleep)
    results = []
    with halt_on_signals("BTC", "s"):
        for result in bt.Live.run("BTC", strategy_name="s", exchange_name="ex"):
            results.append(result)
    return results, ticks


@pytest.fixture
def pair(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path / "state"))
    quiet_market(symbols=("BTC",))
    fake_clock.now = T0
    calls = []
    previous = signal.signal(signal.SIGTERM, prefect_like_handler(calls))
    yield calls
    signal.signal(signal.SIGTERM, previous)


def test_an_open_position_stays_persisted_and_the_next_run_adopts_it(fake_clock, pair):
    bt.add_strategy(strategy_name="s", interval="1m",
                    get_signal=signal_table({("BTC", 5): long_at_market(tp=110, sl=90, minutes=600)}))
    with pytest.raises(Cancelled):
        run_until_signal(fake_clock, at_tick=20)
    assert pair == [signal.SIGTERM]
    opened = bt.Live.get_pending_signal("BTC", "s")
    bt.Live._reset()  # a new process
    fake_clock.now += M

    def sleep_once(seconds):
        fake_clock.now += int(seconds * 1000)
        bt.Live.stop("BTC", "s")
        raise Cancelled()  # end the second run right after it adopted the row

    clock.set_clock(fake_clock.now_ms, sleep_once)
    with pytest.raises(Cancelled):
        list(bt.Live.run("BTC", strategy_name="s", exchange_name="ex"))
    assert bt.Live.get_pending_signal("BTC", "s").id == opened.id


def test_a_flat_pair_stops_after_the_tick_then_prefect_gets_the_signal(fake_clock, pair):
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({}))
    with pytest.raises(Cancelled):
        run_until_signal(fake_clock, at_tick=10)
    assert pair == [signal.SIGTERM]
    assert bt.Live.list()[0].status == "done"


def test_a_waiting_entry_is_not_cancelled_by_a_halt(fake_clock, pair):
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 5): {
        "position": "long", "price_open": 97, "price_take_profit": 99, "price_stop_loss": 96,
        "minute_estimated_time": 60}}))
    with pytest.raises(Cancelled):
        run_until_signal(fake_clock, at_tick=10)
    assert bt.Live.get_scheduled_signal("BTC", "s") is not None  # still waiting, in memory and in the stores
    stored = os.path.join(bt.get_config()["CC_PERSIST_BASE_DIR"], "schedule", "BTC_s", "BTC.json")
    with open(stored) as f:
        assert json.load(f)["price_open"] == 97


def test_ctrl_c_halts_and_returns_normally(fake_clock, pair):
    bt.add_strategy(strategy_name="s", interval="1m",
                    get_signal=signal_table({("BTC", 5): long_at_market(tp=110, sl=90, minutes=600)}))
    results, ticks = run_until_signal(fake_clock, at_tick=10, signum=signal.SIGINT)
    assert [r.action for r in results] == ["opened"] and len(ticks) == 10 and pair == []
    assert bt.Live.get_pending_signal("BTC", "s") is not None
