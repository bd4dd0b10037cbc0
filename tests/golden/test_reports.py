"""Golden files for the markdown reports of SPEC §14: the full text is compared.

Regenerate after an intended change with ``BTK_UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff.
"""
import os
import struct
from pathlib import Path

import pytest

import btk_core as bt
from btk_core.reports import stores
from tests.helpers import T0, M, quiet_market, signal_table

GOLDEN = Path(__file__).with_name("reports")


def check(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if os.environ.get("BTK_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def sig(position, tp, sl, minutes=60, sid=None, **kw):
    return {"position": position, "price_take_profit": tp, "price_stop_loss": sl, "minute_estimated_time": minutes,
            "id": sid, **kw}


@pytest.fixture
def world(fake_clock):
    """Two strategies on three symbols with wins, losses, a limit entry, a timeout and a risk rejection."""
    fake_clock.now = T0 + 100 * 24 * 60 * M
    quiet_market({
        "BTC": {12: (100, 101.5, 99.9, 101), 31: (100, 100.1, 98.5, 99)},
        "ETH": {11: (100, 100.6, 99.7, 100.2), 14: (100, 100.1, 98.9, 99), 40: (100, 101.2, 99.9, 101)},
        "SOL": {20: (100, 101.1, 99.9, 101)},
    })
    bt.add_frame(frame_name="f", interval="1m", start_date=T0 + 10 * M, end_date=T0 + 60 * M)
    bt.add_risk(risk_name="one", validations=[lambda p: "one position at a time" if p.active_position_count else None])
    # BTC: market long, TP on m12 (closed T0+13m); at m30 the "one" profile rejects it (ETH holds a position).
    # At m13, after BTC's close: ETH bids 99, filled on m14 (pending_at T0+15m), TP on m40; SOL offers 101.5,
    # never filled (timeout at T0+133m). Waiting rows are not positions, so both pass the profile at m13.
    table = {
        ("BTC", 10): sig("long", 101, 99, sid="btc-1", note="breakout | *strong*"),
        ("BTC", 30): sig("long", 101, 99, sid="btc-2"),
        ("ETH", 13): sig("long", 101, 98, sid="eth-1", price_open=99),
        ("SOL", 13): sig("short", 99, 103, sid="sol-1", price_open=101.5),
    }
    bt.add_strategy(strategy_name="trend", interval="1m", get_signal=signal_table(table), risk_name="one")
    return list(bt.Backtest.run_portfolio([("BTC", "trend"), ("ETH", "trend"), ("SOL", "trend")],
                                          exchange_name="ex", frame_name="f"))


def test_backtest_report(world):
    check("backtest_btc", bt.Backtest.get_report("BTC", "trend"))
    bt.set_config(CC_REPORT_SHOW_SIGNAL_NOTE=True)
    check("backtest_btc_with_notes", bt.Backtest.get_report("BTC", "trend"))


def test_heatmap_report(world):
    check("heatmap_trend", bt.Heat.get_report("trend"))


def test_schedule_report(world):
    check("schedule_eth", bt.Schedule.get_report("ETH", "trend"))
    check("schedule_sol", bt.Schedule.get_report("SOL", "trend"))
    eth = bt.Schedule.get_data("ETH", "trend")
    assert (eth.total_scheduled, eth.total_opened, eth.activation_rate, eth.avg_activation_time) == (1, 1, 100.0, 2.0)
    sol = bt.Schedule.get_data("SOL", "trend")
    assert (sol.total_cancelled, sol.cancellation_rate, sol.avg_wait_time) == (1, 100.0, 120.0)


def test_partial_report(world):
    check("partial_btc", bt.Partial.get_report("BTC", "trend"))


def test_risk_report(world):
    check("risk_btc", bt.Risk.get_report("BTC", "trend"))
    assert bt.Risk.get_data("BTC", "trend").total_rejections == 1


def test_performance_report(fake_clock):
    bt.add_strategy(strategy_name="trend", interval="1m", get_signal=lambda s, w: None)
    previous = None
    log = stores.PERFORMANCE.open(("BTC", "trend", True), 0)
    log.origin = (0, 0.0)  # perf_counter 0 s is wall 0 ms: the readings below are wall seconds
    for k, d in enumerate([5, 1, 9, 3, 7, 2, 8, 4, 6, 10]):
        stamp = float(k + 1)
        log.record(stamp, previous, "backtest_timeframe", float(d), "ex")
        previous = stamp
    log.record(20.0, previous, "backtest_total", 60.0, "ex")
    stats = bt.Performance.get_data("BTC", "trend")
    m = stats.metric_stats["backtest_timeframe"]
    assert (m.avg_duration, m.std_dev, m.median, m.p95, m.p99) == (5.5, 3.0276503540974917, 5, 10, 10)
    check("performance_btc", bt.Performance.get_report("BTC", "trend"))


def test_walker_report(world):
    bt.add_strategy(strategy_name="quiet", interval="1m", get_signal=lambda s, w: None)
    bt.add_strategy(strategy_name="btc_only", interval="1m", get_signal=signal_table({("BTC", 10): sig(
        "long", 101, 99, sid="w-1")}))
    bt.add_walker(walker_name="cmp", exchange_name="ex", frame_name="f", strategies=["quiet", "trend", "btc_only"],
                  metric="total_pnl")
    with pytest.raises(bt.BtkError, match="No walker data available"):
        bt.Walker.get_report("BTC", "cmp")
    contracts = list(bt.Walker.run("BTC", walker_name="cmp"))
    assert [c.strategy_name for c in contracts] == ["quiet", "trend", "btc_only"]
    assert bt.Walker.get_data("BTC", "cmp").complete.best_strategy == "btc_only"
    check("walker_cmp", bt.Walker.get_report("BTC", "cmp"))


def test_empty_states(fake_clock):
    bt.add_strategy(strategy_name="never", interval="1m", get_signal=lambda s, w: None)
    assert bt.Backtest.get_report("BTC", "never") == "# Backtest Report: never\n\nNo signals closed yet."
    assert bt.Heat.get_report("never") == "# Portfolio Heatmap: never\n\n*No data available*"
    assert bt.Schedule.get_report("BTC", "never").endswith("\n\nNo scheduled signals recorded yet.")
    assert bt.Partial.get_report("BTC", "never").endswith("\n\nNo partial profit/loss events recorded yet.")
    assert bt.Risk.get_report("BTC", "never").endswith("\n\nNo risk rejections recorded yet.")
    assert bt.Performance.get_report("BTC", "never").endswith("\n\nNo performance metrics recorded yet.")
    with pytest.raises(bt.UnknownNameError):
        bt.Heat.get_report("ghost")


def is_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    return struct.unpack(">II", data[16:24])


def test_dumps_write_reports_and_pictures(world, tmp_path):
    path = Path(bt.Backtest.dump("BTC/USDT" if False else "BTC", "trend", path=str(tmp_path / "backtest")))
    assert path.name == "BTC_trend.md" and "![Compounded equity and drawdown of trend on BTC](BTC_trend.png)" in path.read_text()
    assert min(is_png(path.with_suffix(".png"))) > 200
    heat = Path(bt.Heat.dump("trend", path=str(tmp_path / "heatmap")))
    assert "](trend.png)" in heat.read_text() and is_png(heat.with_suffix(".png"))
    for api in (bt.Schedule, bt.Partial, bt.Risk, bt.Performance):
        written = Path(api.dump("SOL", "trend", path=str(tmp_path / "x")))
        assert written.read_text() == api.get_report("SOL", "trend")


def test_symbols_with_slashes_stay_in_one_folder(fake_clock, tmp_path):
    bt.add_strategy(strategy_name="never", interval="1m", get_signal=lambda s, w: None)
    written = Path(bt.Schedule.dump("BTC/USDT", "never", path=str(tmp_path)))
    assert written.parent == tmp_path and written.name == "BTC_USDT-4d7eaaf1_never.md"


def test_write_errors_name_the_path(fake_clock, tmp_path):
    bt.add_strategy(strategy_name="never", interval="1m", get_signal=lambda s, w: None)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(bt.BtkError, match=str(blocker)):
        bt.Schedule.dump("BTC", "never", path=str(blocker / "sub"))


def live_results():
    """A live pair's tick results: idle ticks, an opened position, two active ticks, a close."""
    from btk_core.pnl import compute_pnl
    row = bt.SignalRow("live-1", "long", "note", 100.0, 101.0, 99.0, 60, "BTC", "ex", "trend", T0, T0, False)
    base = dict(symbol="BTC", strategy_name="trend", exchange_name="ex", backtest=False)
    return [
        bt.IdleResult(**base, current_price=100.0, signal=None, timestamp=T0 - 2 * M),
        bt.IdleResult(**base, current_price=100.1, signal=None, timestamp=T0 - M),
        bt.OpenedResult(**base, current_price=100.0, signal=row, timestamp=T0),
        bt.ActiveResult(**base, current_price=100.5, signal=row, timestamp=T0 + M, percent_tp=50.0, percent_sl=0.0),
        bt.ActiveResult(**base, current_price=99.5, signal=row, timestamp=T0 + 2 * M, percent_tp=0.0,
                        percent_sl=50.0),
        bt.ClosedResult(**base, current_price=101.0, signal=row, timestamp=T0 + 3 * M, close_reason="take_profit",
                        close_timestamp=T0 + 3 * M, pnl=compute_pnl("long", 100.0, 101.0, fee_percent=0.1,
                                                                    slippage_percent=0.1)),
        bt.IdleResult(**base, current_price=101.0, signal=None, timestamp=T0 + 4 * M),
    ]


def test_live_queue_rules_and_report(fake_clock):
    from btk_core.config import snapshot
    from btk_core.reports.documents import live_report
    from btk_core.stats import live_statistics
    for result in live_results():
        stores.record_result(result, snapshot())
    queue = stores.LIVE.items("BTC", "trend")
    assert [r.action for r in queue] == ["idle", "closed", "active", "opened", "idle"]  # idles and actives collapse
    assert queue[2].timestamp == T0 + 2 * M and queue[4].timestamp == T0 - M
    stats = live_statistics(queue)
    assert (stats.total_events, stats.total_closed, stats.total_pnl) == (5, 1, 0.5982017982018049)
    check("live_trend", live_report("trend", stats))
    bt.set_config(CC_LIVE_MAX_EVENTS=2)
    stores.LIVE.clear_all()
    for result in live_results():
        stores.record_result(result, snapshot())
    assert [r.action for r in stores.LIVE.items("BTC", "trend")] == ["idle", "closed"]
    assert live_report("never", live_statistics([])) == "# Live Trading Report: never\n\nNo events recorded yet."


def test_dump_signal(tmp_path, caplog):
    messages = [{"role": "system", "content": "Answer JSON only."}, {"role": "user", "content": "1h candles"},
                {"role": "assistant", "content": "OK"}, {"role": "user", "content": "x" * 21000}]
    answer = {"position": "long", "note": "go", "price_open": 1.0, "price_take_profit": 2.0, "price_stop_loss": 0.5,
              "minute_estimated_time": 60}
    folder = Path(bt.dump_signal("a/b", messages, answer, path=str(tmp_path)))
    assert folder.name == "a_b-" + __import__("hashlib").sha256(b"a/b").hexdigest()[:8]
    assert sorted(p.name for p in folder.iterdir()) == ["00_system_prompt.md", "01_user_message.md",
                                                        "02_user_message.md", "03_llm_output.md"]
    system = (folder / "00_system_prompt.md").read_text()
    assert system.startswith("```json\n{\n  \"position\": \"long\"") and system.endswith("Answer JSON only.\n")
    assert (folder / "01_user_message.md").read_text() == "1h candles\n"
    assert "over 20 KB" in caplog.text
    assert bt.dump_signal("a/b", [], {"x": 1}, path=str(tmp_path)) is None  # existing folder: nothing written
    assert (folder / "03_llm_output.md").read_text().startswith("```json\n{\n  \"position\"")
