"""SPEC §15 event bus: order, unsubscribe, once, guarded listeners."""
import btk_core as bt
from btk_core import events


def test_subscription_order_and_unsubscribe():
    seen = []
    u1 = bt.listen_signal(lambda e: seen.append(("a", e)))
    bt.listen_signal(lambda e: seen.append(("b", e)))
    events.signal.emit(1)
    u1()
    u1()  # idempotent
    events.signal.emit(2)
    assert seen == [("a", 1), ("b", 1), ("b", 2)]


def test_once_uses_filter_then_unsubscribes():
    seen = []
    bt.listen_signal_once(lambda e: e > 1, seen.append)
    for e in (1, 2, 3):
        events.signal.emit(e)
    assert seen == [2] and events.signal.listeners == ()


def test_once_can_be_cancelled_before_firing():
    seen = []
    unsubscribe = bt.listen_risk_once(lambda e: True, seen.append)
    unsubscribe()
    events.risk.emit("x")
    assert seen == []


def test_raising_listener_is_reported_and_others_still_run(errors):
    seen = []

    class Ev:
        symbol, strategy_name = "BTC", "s"

    def bad(_):
        raise RuntimeError("boom")

    bt.listen_ping(bad)
    bt.listen_ping(seen.append)
    ev = Ev()
    events.ping.emit(ev)
    assert seen == [ev]
    assert len(errors) == 1
    err = errors[0]
    assert isinstance(err, bt.UserCodeError) and err.where == "listen_ping"
    assert (err.symbol, err.strategy_name) == ("BTC", "s") and isinstance(err.__cause__, RuntimeError)


def test_raising_error_listener_is_only_logged(caplog):
    bt.listen_error(lambda e: 1 / 0)
    events.emit_error(bt.BtkError("x"))  # must not raise or recurse
    assert "listen_error listener raised" in caplog.text


def test_every_listener_of_the_spec_exists_and_returns_unsubscribe():
    names = ["signal", "signal_backtest", "signal_live", "error", "exit", "done_backtest", "done_live",
             "done_walker", "backtest_progress", "walker_progress", "optimizer_progress", "performance",
             "walker", "walker_complete", "validation", "partial_profit", "partial_loss", "risk", "ping"]
    with_once = {"signal", "signal_backtest", "signal_live", "done_backtest", "done_live", "done_walker",
                 "walker", "partial_profit", "partial_loss", "risk", "ping"}
    for name in names:
        assert callable(getattr(bt, f"listen_{name}")(lambda e: None))
        assert hasattr(bt, f"listen_{name}_once") == (name in with_once)


def test_a_repeating_error_is_logged_five_times_then_counted(caplog):
    import logging

    from btk_core import events
    from btk_core.errors import SignalValidationError
    seen = []
    events.listen_error(seen.append)
    with caplog.at_level(logging.ERROR, "btk"):
        for k in range(2500):
            events.emit_error(SignalValidationError(f"Invalid signal for long position:\nLong: stop loss too close "
                                                    f"to price_open (0.{k % 500:03d}%), minimum 0.5%"))
        events.emit_error(ValueError("something else"))
    lines = [r.getMessage() for r in caplog.records]
    assert len(seen) == 2501  # listeners get every one
    assert len(lines) == 5 + 1 + 2 + 1  # five in full, the note, one line per 1000, the other error
    assert "has now repeated 5 times" in lines[5] and "repeated 2000 times" in lines[7]
    assert lines[-1] == "ValueError: something else"
