"""SPEC §12: walker order, strict-greater best, failures, stop, callbacks and events."""
import pytest

import btk_core as bt
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table


@pytest.fixture(autouse=True)
def market(fake_clock):
    fake_clock.now = T0 + 100 * 24 * 60 * M
    quiet_market({"BTC": {12: (100, 101.5, 99.9, 101), 31: (100, 101.5, 99.9, 101)}})
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 40 * M)


def strategy(name, table):
    bt.add_strategy(strategy_name=name, interval="1m", get_signal=signal_table(table))


def test_best_is_strictly_greater_and_ties_keep_the_earlier():
    strategy("one_win", {("BTC", 10): long_at_market()})
    strategy("same_win", {("BTC", 10): long_at_market()})
    strategy("two_wins", {("BTC", 10): long_at_market(), ("BTC", 30): long_at_market()})
    strategy("none", {})
    bt.add_walker(walker_name="w", exchange_name="ex", frame_name="f",
                  strategies=["none", "one_win", "same_win", "two_wins"], metric="total_pnl")
    progress, complete, done = [], [], []
    bt.listen_walker_progress(progress.append)
    bt.listen_walker_complete(complete.append)
    bt.listen_done_walker(done.append)
    out = list(bt.Walker.run("BTC", walker_name="w"))
    assert [(c.strategy_name, c.best_strategy) for c in out] == [
        ("none", None), ("one_win", "one_win"), ("same_win", "one_win"), ("two_wins", "two_wins")]
    assert out[0].metric_value is None and out[1].metric_value == out[2].metric_value
    assert [p.processed_strategies for p in progress] == [1, 2, 3, 4] and progress[-1].progress == 1.0
    assert complete[0].best_strategy == "two_wins" and complete[0].best_stats.total_signals == 2
    assert done == [bt.DoneContract("ex", "w", True, "BTC")]


def test_failing_strategy_is_reported_and_skipped(monkeypatch):
    strategy("good", {("BTC", 10): long_at_market()})
    strategy("bad", {})
    errors, hooks = [], []
    bt.listen_error(errors.append)
    bt.add_walker(walker_name="w", exchange_name="ex", frame_name="f", strategies=["bad", "good"], metric="win_rate",
                  callbacks={
        "on_strategy_start": lambda s, sym: hooks.append(("start", s)),
        "on_strategy_error": lambda s, sym, e: hooks.append(("error", s)),
        "on_strategy_complete": lambda s, sym, stats, v: hooks.append(("complete", s)),
        "on_complete": lambda c: hooks.append(("done", c.best_strategy)),
    })
    real_run = bt.Backtest.run

    def flaky(symbol, *, strategy_name, **kw):
        if strategy_name == "bad":
            raise RuntimeError("exchange exploded")
        return real_run(symbol, strategy_name=strategy_name, **kw)

    monkeypatch.setattr(bt.Backtest, "run", flaky)
    out = list(bt.Walker.run("BTC", walker_name="w"))
    assert [c.strategy_name for c in out] == ["good"]
    assert hooks == [("start", "bad"), ("error", "bad"), ("start", "good"), ("complete", "good"), ("done", "good")]
    assert "exchange exploded" in str(errors[0])


def test_stop_skips_the_rest_and_still_completes():
    strategy("a", {("BTC", 10): long_at_market()})
    strategy("b", {("BTC", 10): long_at_market()})
    bt.add_walker(walker_name="w", exchange_name="ex", frame_name="f", strategies=["a", "b"], metric="win_rate",
                  callbacks={"on_strategy_complete": lambda *a: bt.Walker.stop("BTC", "w")})
    out = list(bt.Walker.run("BTC", walker_name="w"))
    assert [c.strategy_name for c in out] == ["a"]
    results = bt.Walker.get_data("BTC", "w")
    assert results.complete.best_strategy == "a" and results.complete.total_strategies == 2


def test_unknown_names():
    with pytest.raises(bt.UnknownNameError):
        bt.Walker.run("BTC", walker_name="nope")
    bt.add_walker(walker_name="w", exchange_name="ex", frame_name="f", strategies=["ghost"])
    with pytest.raises(bt.UnknownNameError, match="strategy 'ghost' not found"):
        bt.Walker.run("BTC", walker_name="w")
