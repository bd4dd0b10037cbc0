"""SPEC §9: live ticks on a fake clock, persistence, restore, stop."""
import json

import pytest

import btk_core as bt
from btk_core import clock
from tests.helpers import T0, M, hourly_synthetic_day, long_at_market, quiet_market, signal_table


@pytest.fixture
def base_dir(tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path / "state"))
    return tmp_path / "state"


def run_live(fake_clock, until, symbol="BTC", strategy="s", exchange="ex", stop_when=None):
    """Tick from the fake clock's now until ``until`` (then stop), collecting what Live.run yields."""
    def sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        if fake_clock.now >= until or (stop_when and stop_when()):
            bt.Live.stop(symbol, strategy)
    clock.set_clock(fake_clock.now_ms, sleep)
    return list(bt.Live.run(symbol, strategy_name=strategy, exchange_name=exchange))


def test_live_produces_the_backtest_trades(fake_clock, base_dir):
    """Synthetic candles, an hourly strategy: live ticking every minute closes the same trades."""
    start = hourly_synthetic_day("s")
    fake_clock.now = start + 40 * 24 * 60 * M
    backtest = [(r.signal.pending_at, r.close_reason, r.close_timestamp, r.current_price)
                for r in bt.Backtest.run("BTCUSDT", strategy_name="s", exchange_name="syn", frame_name="day")]
    fake_clock.now = start
    live = run_live(fake_clock, start + 24 * 60 * M + M, symbol="BTCUSDT", exchange="syn")  # frame end inclusive
    closed = [(r.signal.pending_at, r.close_reason, r.close_timestamp, r.current_price)
              for r in live if r.action == "closed"]
    assert len(backtest) > 10 and closed == backtest
    assert bt.Live.get_data("BTCUSDT", "s").total_closed >= 1
    assert "# Live Trading Report: s" in bt.Live.get_report("BTCUSDT", "s")


def test_state_files_follow_every_change_and_restart_resumes(fake_clock, base_dir):
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}))
    pending_file = base_dir / "signal" / "BTC_s" / "BTC.json"
    fake_clock.now = T0 + 10 * M
    out = run_live(fake_clock, T0 + 20 * M, stop_when=lambda: False)
    # stop() with an open position: it keeps running... so the run above ends only when the trade closed
    assert [r.action for r in out] == ["opened", "closed"] and out[1].close_timestamp == T0 + 41 * M
    assert json.loads(pending_file.read_text()) is None


def test_restart_adopts_the_position_without_reemitting_it(fake_clock, base_dir):
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    seen = []
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}),
                    callbacks={"on_active": lambda *a: seen.append("active")})
    fake_clock.now = T0 + 10 * M
    clock.set_clock(fake_clock.now_ms, lambda s: setattr(fake_clock, "now", fake_clock.now + int(s * 1000)))
    run = bt.Live.run("BTC", strategy_name="s", exchange_name="ex")
    assert next(run).action == "opened"
    run.close()  # the process "dies" with the position open: the stores keep it
    row = json.loads((base_dir / "signal" / "BTC_s" / "BTC.json").read_text())
    assert row["pending_at"] == T0 + 10 * M
    fake_clock.now = T0 + 30 * M
    out = run_live(fake_clock, T0 + 60 * M)
    assert [r.action for r in out] == ["closed"] and out[0].signal.id == row["id"] and seen == ["active"]


@pytest.mark.parametrize("content, kind", [
    ('{"id": "x"', "corrupt"),
    ('{"id": "x"}', "corrupt"),
])
def test_unreadable_state_is_moved_aside(fake_clock, base_dir, errors, content, kind):
    quiet_market()
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    path = base_dir / "signal" / "BTC_s" / "BTC.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    fake_clock.now = T0 + 10 * M
    run_live(fake_clock, T0 + 12 * M)
    aside = list(path.parent.glob(f"BTC.json.{kind}-*"))
    assert len(aside) == 1 and aside[0].read_text() == content and not path.exists()
    assert any(isinstance(e, bt.PersistCorruptError) for e in errors)


def test_foreign_row_is_moved_aside(fake_clock, base_dir, errors):
    from dataclasses import asdict
    quiet_market()
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    row = bt.SignalRow("x", "long", "", 100.0, 101.0, 99.0, 60, "ETH", "ex", "s", T0, T0, False)
    path = base_dir / "signal" / "BTC_s" / "BTC.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(asdict(row)))
    fake_clock.now = T0 + 10 * M
    run_live(fake_clock, T0 + 12 * M)
    assert len(list(path.parent.glob("BTC.json.foreign-*"))) == 1 and bt.Live.get_pending_signal("BTC", "s") is None


def test_stop_cancels_a_waiting_row_at_the_next_tick(fake_clock, base_dir):
    quiet_market()
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): {
        "position": "long", "price_open": 97, "price_take_profit": 99, "price_stop_loss": 96,
        "minute_estimated_time": 60}}))
    fake_clock.now = T0 + 10 * M
    done = []
    bt.listen_done_live(done.append)
    out = run_live(fake_clock, T0 + 15 * M)
    assert [(r.action, r.reason, r.close_timestamp) for r in out] == [("cancelled", "user", T0 + 15 * M)]
    assert done == [bt.DoneContract("ex", "s", False, "BTC")]
    assert json.loads((base_dir / "schedule" / "BTC_s" / "BTC.json").read_text()) is None


def test_live_risk_positions_are_persisted_and_reconciled(fake_clock, base_dir):
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    bt.add_risk(risk_name="book", validations=[lambda p: None])
    bt.add_strategy(strategy_name="s", interval="1m", risk_name="book",
                    get_signal=signal_table({("BTC", 10): long_at_market()}))
    fake_clock.now = T0 + 10 * M
    clock.set_clock(fake_clock.now_ms, lambda s: setattr(fake_clock, "now", fake_clock.now + int(s * 1000)))
    run = bt.Live.run("BTC", strategy_name="s", exchange_name="ex")
    next(run)
    positions = json.loads((base_dir / "risk" / "book" / "positions.json").read_text())
    assert [p["key"] for p in positions] == ["s:BTC"]
    run.close()
    out = run_live(fake_clock, T0 + 60 * M)
    assert out[-1].action == "closed"
    assert json.loads((base_dir / "risk" / "book" / "positions.json").read_text()) == []


def test_clock_going_back_is_logged_and_harmless(fake_clock, base_dir, caplog):
    quiet_market({"BTC": {14: (100, 101.5, 99.9, 101)}})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}))
    fake_clock.now = T0 + 10 * M
    steps = iter([M, M, -3 * M, M, M, M, M, M, M, M, M])

    def sleep(seconds):
        fake_clock.now += next(steps, M)
        if fake_clock.now >= T0 + 20 * M:
            bt.Live.stop("BTC", "s")

    clock.set_clock(fake_clock.now_ms, sleep)
    out = list(bt.Live.run("BTC", strategy_name="s", exchange_name="ex"))
    assert [(r.action, r.close_timestamp if r.action == "closed" else None) for r in out] == \
        [("opened", None), ("closed", T0 + 15 * M)]
    assert "live clock went back" in caplog.text


def test_late_candles_delay_the_close_but_not_its_numbers(fake_clock, base_dir):
    """The exchange serves each 1m candle 3 minutes after it closed: the close is found later, at the
    same time and price a backtest would give it."""
    rows = {m: (100, 101.5, 99.9, 101) if m == 14 else (100, 100.2, 99.8, 100) for m in range(-200, 200)}

    def lagging(symbol, interval, since, limit):
        visible = [[T0 + m * M, *ohlc, 10.0] for m, ohlc in sorted(rows.items())
                   if T0 + m * M >= since and T0 + (m + 1) * M + 3 * M <= clock.now()]
        return visible[:limit]

    bt.add_exchange(exchange_name="ex", get_candles=lagging)
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}))
    fake_clock.now = T0 + 10 * M
    found_at = []
    bt.listen_signal_live(lambda r: found_at.append(fake_clock.now) if r.action == "closed" else None)
    out = run_live(fake_clock, T0 + 20 * M)
    assert [(r.close_reason, r.close_timestamp, r.current_price) for r in out if r.action == "closed"] == \
        [("take_profit", T0 + 15 * M, 101)]
    assert found_at == [T0 + 18 * M]


def test_a_close_on_a_decision_boundary_decides_again_like_a_backtest(fake_clock, base_dir):
    """TP on m14 closes at T0+15m, a 5m decision time: the backtest resumes there and asks again; the live
    tick at T0+15m closes and then asks too, so both open the second trade at T0+15m."""
    quiet_market({"BTC": {14: (100, 101.5, 99.9, 101)}})
    table = {("BTC", 10): long_at_market(), ("BTC", 15): long_at_market(105, 95, 20)}
    bt.add_strategy(strategy_name="s", interval="5m", get_signal=signal_table(table))
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 30 * M)
    fake_clock.now = T0 + 100 * 24 * 60 * M
    backtest = [(r.signal.pending_at, r.close_timestamp) for r in
                bt.Backtest.run("BTC", strategy_name="s", exchange_name="ex", frame_name="f")]
    fake_clock.now = T0 + 10 * M
    live = [(r.signal.pending_at, r.close_timestamp) for r in run_live(fake_clock, T0 + 31 * M)
            if r.action == "closed"]
    assert backtest == live == [(T0 + 10 * M, T0 + 15 * M), (T0 + 15 * M, T0 + 35 * M)]
