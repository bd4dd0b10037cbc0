"""The backtest flow runs for real and gives exactly what the same backtests give run directly (SPEC §18)."""
import re
from pathlib import Path

import pytest

import btk_core as bt
from flows.setup_loader import load_setup

SETUP = str(Path(__file__).resolve().parents[1] / "fixtures" / "small_setup.py")


@pytest.fixture
def setup_module():
    import sys

    from flows.setup_loader import setup_module_name
    sys.modules.pop(setup_module_name(SETUP), None)  # the registry was cleared: register again
    return load_setup(SETUP)


def direct_stats(module):
    """The same backtests through btk_core: plain pairs alone, the risk-sharing strategy as one portfolio."""
    out = {}
    for symbol in module.SYMBOLS:
        list(bt.Backtest.run(symbol, strategy_name="trend", exchange_name="syn", frame_name="day"))
        out[(symbol, "trend")] = bt.Backtest.get_data(symbol, "trend")
    list(bt.Backtest.run_portfolio([(s, "swing") for s in module.SYMBOLS], exchange_name="syn", frame_name="day"))
    for symbol in module.SYMBOLS:
        out[(symbol, "swing")] = bt.Backtest.get_data(symbol, "swing")
    return out


def test_backtest_flow_equals_direct_runs(prefect_harness, setup_module, tmp_path):
    from prefect.artifacts import Artifact

    from flows.backtest import backtest_flow
    summary = backtest_flow(SETUP, setup_module.SYMBOLS, setup_module.STRATEGIES, "syn", "day",
                            metric="total_pnl", report_dir=str(tmp_path))
    expected = direct_stats(setup_module)
    assert [(p["symbol"], p["strategy"]) for p in summary["pairs"]] == [
        ("BTCUSDT", "trend"), ("ETHUSDT", "trend"), ("BTCUSDT", "swing"), ("ETHUSDT", "swing")]
    for pair in summary["pairs"]:
        stats = expected[(pair["symbol"], pair["strategy"])]
        assert pair["stats"]["total_signals"] == stats.total_signals > 0
        assert pair["stats"]["total_pnl"] == stats.total_pnl
    assert bt.Risk.get_data("ETHUSDT", "swing").total_rejections + bt.Risk.get_data("BTCUSDT", "swing").total_rejections > 0
    for symbol, info in summary["ranking"].items():
        values = {s: expected[(symbol, s)].total_pnl for s in setup_module.STRATEGIES}
        assert info["best_strategy"] == max(values, key=values.get)
    for path in list(summary["reports"].values()) + list(summary["heatmaps"].values()):
        assert Path(path).is_file()
    assert Path(summary["heatmaps"]["trend"]).with_suffix(".png").is_file()
    assert Artifact.get("btk-backtest-statistics") is not None
    assert Artifact.get("btk-heatmap-swing") is not None
    assert Artifact.get("btk-ranking-total-pnl") is not None
    walker = Path(summary["ranking"]["BTCUSDT"]["report"])
    assert walker.read_text().startswith("# Walker Comparison Report: backtest-flow")
    assert f"## Best Strategy: {summary['ranking']['BTCUSDT']['best_strategy']}" in walker.read_text()
    report = Artifact.get("btk-backtest-btcusdt-trend").data
    assert "# Backtest Report: trend" in report
    # pictures are embedded (the UI cannot load a relative path) and numbers are rounded for reading
    assert "![Compounded equity and drawdown of trend on BTCUSDT](data:image/png;base64,iVBOR" in report
    assert ".png)" not in report
    assert "](data:image/png;base64," in Artifact.get("btk-heatmap-swing").data
    import json
    table = Artifact.get("btk-backtest-statistics").data
    rows = json.loads(table) if isinstance(table, str) else table
    floats = [v for row in rows for v in row.values() if isinstance(v, float)]
    assert floats and all(round(v, 4) == v for v in floats)


def test_the_flow_writes_exactly_what_the_api_dumps(prefect_harness, setup_module, tmp_path):
    """One report-writing path: the flow's backtest reports, pictures and heatmaps are byte for byte what
    ``Backtest.dump`` and ``Heat.dump`` write for the same run; the walker ranks with a note on shared risk."""
    from flows.backtest import backtest_flow
    flow_dir, api_dir = tmp_path / "flow", tmp_path / "api"
    summary = backtest_flow(SETUP, setup_module.SYMBOLS, setup_module.STRATEGIES, "syn", "day", refresh=True,
                            report_dir=str(flow_dir))
    for pair in summary["pairs"]:  # the flow ran in this process: the engine still holds each pair's last run
        written = Path(bt.Backtest.dump(pair["symbol"], pair["strategy"], path=str(api_dir / "backtest")))
        flow_file = flow_dir / "backtest" / written.name
        assert flow_file.read_text() == written.read_text()
        assert flow_file.with_suffix(".png").read_bytes() == written.with_suffix(".png").read_bytes()
        for kind, api in (("schedule", bt.Schedule), ("risk", bt.Risk), ("partial", bt.Partial)):
            assert (flow_dir / kind / written.name).read_text() == api.get_report(pair["symbol"], pair["strategy"])
    assert bt.Partial.get_data("BTCUSDT", "trend").total_events > 0  # recorded without opting in (SPEC §20.5)
    for strategy in setup_module.STRATEGIES:
        heat = Path(bt.Heat.dump(strategy, path=str(api_dir / "heatmap")))
        assert (flow_dir / "heatmap" / heat.name).read_text() == heat.read_text()
        assert (flow_dir / "heatmap" / heat.name).with_suffix(".png").read_bytes() == heat.with_suffix(".png").read_bytes()
    ranking = Path(summary["ranking"]["BTCUSDT"]["report"]).read_text()
    assert "> swing ran as one portfolio under its shared risk profile (one_at_a_time) with BTCUSDT swing, " \
           "ETHUSDT swing" in ranking
    assert "> trend ran as one portfolio" not in ranking


def test_cli_rejects_bad_names_before_prefect(capsys, setup_module):
    from flows.cli import main
    assert main(["backtest", "--setup", SETUP, "--symbols", "BTCUSDT", "--strategies", "ghost",
                 "--exchange", "syn", "--frame", "day"]) == 2
    assert capsys.readouterr().err.strip() == "btk backtest: strategy 'ghost' not found"
    assert main([]) == 2


def test_walker_flow_and_cli(prefect_harness, tmp_path, capsys):
    import sys

    from flows.setup_loader import setup_module_name
    from flows.walker import walker_flow
    sys.modules.pop(setup_module_name(SETUP), None)
    module = load_setup(SETUP)
    bt.add_walker(walker_name="cmp", exchange_name="syn", frame_name="day", strategies=module.STRATEGIES,
                  metric="total_pnl")
    out = walker_flow(SETUP, module.SYMBOLS, "cmp", report_dir=str(tmp_path))
    assert [r["symbol"] for r in out] == module.SYMBOLS
    for r in out:
        assert r["best_strategy"] in module.STRATEGIES and Path(r["report"]).is_file()
        assert Path(r["report"]).with_suffix(".png").is_file()
    from flows.cli import main
    assert main(["walker", "--setup", SETUP, "--symbols", "BTCUSDT", "--walker", "cmp", "--report-dir",
                 str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "cmp BTCUSDT (strategies)" in printed and f"best: {out[0]['best_strategy']}" in printed


def test_live_flow_resumes_a_persisted_position(prefect_harness, tmp_path, fake_clock):
    """The first flow run dies with a position open (the stores keep it); the next run adopts and closes it."""
    import json
    import sys

    from btk_core import clock
    from flows.live import live_flow
    from flows.setup_loader import setup_module_name
    sys.modules.pop(setup_module_name(SETUP), None)
    load_setup(SETUP)
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path / "state"))
    fake_clock.now = 1717372800000 + 60 * 60_000  # 2024-06-03T01:00
    row_file = tmp_path / "state" / "signal" / "BTCUSDT_trend" / "BTCUSDT.json"

    def dying_sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        if row_file.is_file() and json.loads(row_file.read_text()) is not None:
            raise RuntimeError("the process was killed")

    clock.set_clock(fake_clock.now_ms, dying_sleep)
    with pytest.raises(RuntimeError, match="killed"):
        live_flow(SETUP, "BTCUSDT", "trend", "syn")
    held = json.loads(row_file.read_text())
    stop_at = fake_clock.now + 6 * 60 * 60_000

    def sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        if fake_clock.now >= stop_at:
            bt.Live.stop("BTCUSDT", "trend")

    clock.set_clock(fake_clock.now_ms, sleep)
    second = live_flow(SETUP, "BTCUSDT", "trend", "syn", report_dir=str(tmp_path / "dump"))
    assert second["closed"][0]["id"] == held["id"]  # adopted, not re-opened
    assert [p.rsplit("/", 2)[-2] for p in second["reports"]] == ["live", "ledger"]  # written when it ended
    assert re.fullmatch(r"orders on paper: \d+ order\(s\), 0 mismatch\(es\), balance \d+\.\d\d USDT", second["orders"])


@pytest.mark.parametrize("runner", ["dask", "process"])
def test_backtest_flow_on_other_runners_gives_the_thread_summary(prefect_harness, setup_module, tmp_path, runner):
    """The same flow on a Dask LocalCluster or a process pool (separate worker processes, each loading the
    setup by its path and reporting to the harness's API)."""
    from flows.backtest import backtest_flow
    args = (SETUP, setup_module.SYMBOLS, setup_module.STRATEGIES, "syn", "day")
    threads = backtest_flow(*args, metric="total_pnl", report_dir=str(tmp_path / "threads"))
    other = backtest_flow(*args, metric="total_pnl", task_runner=runner, report_dir=str(tmp_path / runner),
                          refresh=True)  # computed on the workers, not read from the cache
    assert other["pairs"] == threads["pairs"]
    assert {s: (r["best_strategy"], r["ranking"]) for s, r in other["ranking"].items()} == \
        {s: (r["best_strategy"], r["ranking"]) for s, r in threads["ranking"].items()}
    assert all(Path(p).is_file() for p in other["reports"].values())


def test_cli_backtest_prints_the_summary(prefect_harness, setup_module, tmp_path, capsys):
    from flows.cli import main
    code = main(["backtest", "--setup", SETUP, "--symbols", "BTCUSDT", "--strategies", "trend", "--exchange", "syn",
                 "--frame", "day", "--metric", "total_pnl", "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "\ntrend    BTCUSDT " in out and "Ranking by total_pnl:" in out and str(tmp_path) in out


def test_reports_flow_renders_a_saved_run_identically(prefect_harness, setup_module, tmp_path):
    from flows.backtest import RUN_FILE, backtest_flow
    from flows.cli import main
    backtest_flow(SETUP, setup_module.SYMBOLS, setup_module.STRATEGIES, "syn", "day", report_dir=str(tmp_path))
    reports = {p: p.read_text() for p in tmp_path.rglob("*.md")
               if p.parent.name in ("backtest", "heatmap", "walker")}
    assert len(reports) == 4 + 2 + 2
    for path in reports:
        path.unlink()
    assert main(["report", "--run", str(tmp_path / RUN_FILE)]) == 0
    for path, text in reports.items():
        assert path.read_text() == text, path
    assert main(["report", "--run", str(tmp_path / "nope.json")]) == 2



def test_a_cached_backtest_still_writes_every_report(prefect_harness, setup_module, tmp_path):
    from flows.backtest import backtest_flow
    args = (SETUP, ["BTCUSDT"], ["trend"], "syn", "day")
    first = backtest_flow(*args, report_dir=str(tmp_path / "a"))
    second = backtest_flow(*args, report_dir=str(tmp_path / "b"))  # same key: the backtest comes from the cache
    assert second["pairs"] == first["pairs"]
    for kind in ("backtest", "schedule", "risk", "partial", "performance"):
        assert (tmp_path / "b" / kind / "BTCUSDT_trend.md").read_text() == \
            (tmp_path / "a" / kind / "BTCUSDT_trend.md").read_text()


def test_backtest_flow_checks_batch_strategies_for_look_ahead(prefect_harness, tmp_path):
    import sys

    from flows.backtest import backtest_flow
    from flows.setup_loader import setup_module_name
    setup = str(Path(__file__).resolve().parents[1] / "fixtures" / "batch_setup.py")
    sys.modules.pop(setup_module_name(setup), None)
    summary = backtest_flow(setup, ["BTCUSDT"], ["honest"], "syn", "day", report_dir=str(tmp_path))
    assert summary["pairs"][0]["stats"]["total_signals"] > 0
    with pytest.raises(bt.LookAheadError, match="peeks on BTCUSDT: the signal at"):
        backtest_flow(setup, ["BTCUSDT"], ["honest", "peeks"], "syn", "day", report_dir=str(tmp_path))
    from flows.walker import walker_flow
    with pytest.raises(bt.LookAheadError, match="peeks on BTCUSDT"):
        walker_flow(setup, ["BTCUSDT"], "batch-walker", report_dir=str(tmp_path))


def test_changed_data_behind_an_unchanged_setup_is_never_served_from_the_cache(prefect_harness, tmp_path, monkeypatch):
    """The cache key holds the exchange's fingerprint of the data (files: size, mtime, content hash)."""
    import os
    import sys

    import pandas as pd

    from btk_core.exchanges import synthetic_candles
    from flows.backtest import backtest_flow
    from flows.setup_loader import setup_module_name
    setup = str(Path(__file__).resolve().parents[1] / "fixtures" / "files_setup.py")
    data = tmp_path / "data"
    (data / "MYCOIN").mkdir(parents=True)
    monkeypatch.setitem(os.environ, "BTK_TEST_DATA", str(data))
    sys.modules.pop(setup_module_name(setup), None)

    def write(seed):
        cols = synthetic_candles("MYCOIN", (1717200000000 - 3_600_000) // 60_000, 8 * 1440, seed=seed)
        pd.DataFrame(dict(zip(["timestamp", "open", "high", "low", "close", "volume"], cols))).to_csv(
            data / "MYCOIN" / "1m.csv", index=False)

    def run():
        summary = backtest_flow(setup, ["MYCOIN"], ["momentum"], "files", "june", report_dir=str(tmp_path / "dump"),
                                lookahead_samples=0)
        return summary["pairs"][0]["stats"]

    write(seed=1)
    first = run()
    assert run() == first  # unchanged data: the same numbers (served from the cache)
    write(seed=2)
    changed = run()
    assert changed != first and changed["total_signals"] > 0
