"""The backtest flow runs for real and gives exactly what the same backtests give run directly (SPEC §18)."""
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
    assert "# Backtest Report: trend" in Artifact.get("btk-backtest-btcusdt-trend").data


def test_cli_rejects_bad_names_before_prefect(capsys, setup_module):
    from flows.cli import main
    assert main(["backtest", "--setup", SETUP, "--symbols", "BTCUSDT", "--strategies", "ghost",
                 "--exchange", "syn", "--frame", "day"]) == 2
    assert capsys.readouterr().err.strip() == "btk backtest: strategy 'ghost' not found"
    assert main([]) == 2
