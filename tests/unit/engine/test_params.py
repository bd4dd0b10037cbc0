"""Parameterised strategies: one registration, a reproducible named variant per combination (issue: sweeps)."""
from datetime import UTC, datetime
from functools import partial

import numpy as np
import pandas as pd
import pytest

import btk_core as bt
from btk_core.exchanges import add_synthetic_exchange


def sma_signals(symbol, candles, fast, slow):
    close = candles.close
    f = pd.Series(close).rolling(fast).mean().to_numpy()
    s = pd.Series(close).rolling(slow).mean().to_numpy()
    cross = np.zeros(len(close), dtype=bool)
    cross[1:] = (f[1:] > s[1:]) & (f[:-1] <= s[:-1])
    k = np.flatnonzero(cross)
    return pd.DataFrame({"position": "long", "price_take_profit": close[k] * 1.01, "price_stop_loss": close[k] * 0.99,
                         "minute_estimated_time": 240}, index=candles.timestamp[k] + 300_000)


def register_family(**extra):
    return bt.add_strategy(strategy_name="sma", interval="5m", make=lambda p: {"get_signals": partial(sma_signals, **p),
                                                                              "lookback": 60},
                           params={"fast": [5, 10], "slow": range(20, 61, 20)},
                           constraint=lambda p: p["fast"] * 4 <= p["slow"], **extra)


@pytest.fixture
def market(fake_clock):
    fake_clock.now = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp() * 1000)
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="week", interval="1m", start_date=datetime(2024, 6, 3, tzinfo=UTC),
                 end_date=datetime(2024, 6, 10, tzinfo=UTC))


def test_variants_are_named_in_declaration_order_and_filtered_by_the_constraint():
    register_family()
    assert bt.strategy_variants("sma") == ["sma[fast=5,slow=20]", "sma[fast=5,slow=40]", "sma[fast=5,slow=60]",
                                           "sma[fast=10,slow=40]", "sma[fast=10,slow=60]"]


def test_a_variant_backtests_exactly_like_the_same_strategy_registered_by_hand(market):
    register_family()
    bt.add_strategy(strategy_name="by-hand", interval="5m", get_signals=partial(sma_signals, fast=10, slow=40),
                    lookback=60)
    variant = list(bt.Backtest.run("BTCUSDT", strategy_name="sma[fast=10,slow=40]", exchange_name="syn",
                                   frame_name="week"))
    manual = list(bt.Backtest.run("BTCUSDT", strategy_name="by-hand", exchange_name="syn", frame_name="week"))
    assert variant and [(r.close_timestamp, r.pnl) for r in variant] == [(r.close_timestamp, r.pnl) for r in manual]
    assert bt.Backtest.get_data("BTCUSDT", "sma[fast=10,slow=40]").total_signals == len(variant)
    built = {s.strategy_name: s for s in bt.list_strategies()}["sma[fast=10,slow=40]"]
    assert built.note == "fast=10, slow=40" and built.lookback == 60


def test_variants_work_in_a_walker(market):
    register_family()
    bt.add_walker(walker_name="w", exchange_name="syn", frame_name="week",
                  strategies=["sma[fast=5,slow=20]", "sma[fast=10,slow=60]"])
    list(bt.Walker.run("BTCUSDT", walker_name="w"))
    assert bt.Walker.get_data("BTCUSDT", "w").complete.best_strategy in ("sma[fast=5,slow=20]", "sma[fast=10,slow=60]")


@pytest.mark.parametrize("name, message", [
    ("sma", "has parameters ['fast', 'slow']: name a variant such as 'sma[fast=5,slow=20]'"),
    ("sma[fast=7,slow=20]", "fast must be one of ['5', '10'], got '7'"),
    ("sma[slow=40,fast=10]", "the variant is called 'sma[fast=10,slow=40]'"),
    ("sma[fast=10,slow=20]", "excluded by the constraint"),
    ("sma[fast=10,slow=40,x=1]", "unknown parameter 'x'"),
    ("ema[fast=10]", "strategy 'ema[fast=10]' not found"),
])
def test_bad_variant_names_say_what_is_wrong(name, message):
    register_family()
    with pytest.raises(bt.UnknownNameError, match=None) as caught:
        bt.Backtest.get_data("BTC", name)
    assert message in str(caught.value)


def test_a_bad_family_fails_at_registration():
    with pytest.raises(bt.SchemaValidationError, match="params 'fast' must be a non-empty list"):
        bt.add_strategy(strategy_name="x", interval="5m", make=lambda p: None, params={"fast": []})
    with pytest.raises(bt.SchemaValidationError, match="make of 'y' must return get_signal"):
        bt.add_strategy(strategy_name="y", interval="5m", make=lambda p: 42, params={"a": [1]})
    register_family()
    with pytest.raises(bt.DuplicateNameError):
        bt.add_strategy(strategy_name="sma", interval="5m", get_signal=lambda s, w: None)


def test_a_variant_trades_live_like_in_a_backtest(fake_clock, tmp_path):
    """The variant name works in live mode too (its state files are named after it)."""
    from btk_core import clock
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path / "state"))
    add_synthetic_exchange("syn")
    start = int(datetime(2024, 6, 3, tzinfo=UTC).timestamp() * 1000)
    bt.add_strategy(strategy_name="hourly", interval="1h", params={"width": [0.6, 0.9]},
                    make=lambda p: lambda symbol, when: {
                        "position": "long", "price_take_profit": bt.get_average_price(symbol) * (1 + p["width"] / 100),
                        "price_stop_loss": bt.get_average_price(symbol) * (1 - p["width"] / 100),
                        "minute_estimated_time": 45})
    bt.add_frame(frame_name="day", interval="1m", start_date=start, end_date=start + 6 * 3_600_000)
    fake_clock.now = start + 30 * 86_400_000
    backtest = [(r.close_reason, r.close_timestamp) for r in bt.Backtest.run(
        "BTCUSDT", strategy_name="hourly[width=0.9]", exchange_name="syn", frame_name="day")]
    fake_clock.now = start

    def sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        if fake_clock.now >= start + 6 * 3_600_000 + 60_000:
            bt.Live.stop("BTCUSDT", "hourly[width=0.9]")
    clock.set_clock(fake_clock.now_ms, sleep)
    live = [(r.close_reason, r.close_timestamp) for r in bt.Live.run(
        "BTCUSDT", strategy_name="hourly[width=0.9]", exchange_name="syn") if r.action == "closed"]
    assert backtest and live == backtest
