"""Sweeps and walk-forward as flows and as commands (issue: sweeps and walk-forward on a real Dask cluster)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import btk_core as bt
from btk_core import clock
from btk_core.modes.walker import best_by_metric, finite
from flows.setup_loader import load_setup, setup_module_name

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "examples" / "demo_setup.py")
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@pytest.fixture
def demo():
    sys.modules.pop(setup_module_name(DEMO), None)  # the registry was cleared: register again
    return load_setup(DEMO)


def direct_mean(variant: str, metric: str, frame: str = "june-2024") -> float | None:
    values = []
    for symbol in SYMBOLS:
        list(bt.Backtest.run(symbol, strategy_name=variant, exchange_name="synthetic", frame_name=frame))
        values.append(finite(getattr(bt.Backtest.get_data(symbol, variant), metric)))
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def test_a_grid_sweep_ranks_every_combination_like_direct_backtests(prefect_harness, demo, tmp_path):
    from prefect.artifacts import Artifact

    from flows.sweep import sweep_flow
    summary = sweep_flow(DEMO, "sma_grid", SYMBOLS, "synthetic", "june-2024", metric="compounded_return",
                         batch_size=3, report_dir=str(tmp_path), heatmap=["slow", "hold"])
    assert summary["tried"] == len(bt.strategy_variants("sma_grid")) == 16
    metrics = [r["metric"] for r in summary["ranking"]]
    assert metrics == sorted(metrics, reverse=True)
    for row in summary["ranking"][:3] + summary["ranking"][-2:]:
        assert row["metric"] == pytest.approx(direct_mean(row["strategy"], "compounded_return"), rel=1e-12)
    report = Path(summary["report"])
    text = report.read_text()
    assert text.startswith("# Parameter Sweep: sma_grid") and f"## Best: {summary['ranking'][0]['strategy']}" in text
    assert report.with_suffix(".png").is_file() and "![compounded_return over slow and hold](sma_grid_june-2024.png)" in text
    assert json.loads(report.with_suffix(".json").read_text())["ranking"][0] == summary["ranking"][0]
    assert "](data:image/png;base64," in Artifact.get("btk-sweep-sma-grid-june-2024").data
    assert Artifact.get("btk-sweep-ranking-sma-grid-june-2024") is not None


def test_random_and_optuna_searches_try_distinct_allowed_combinations(prefect_harness, demo, tmp_path):
    from flows.sweep import sweep_flow
    random_run = sweep_flow(DEMO, "sma_grid", ["BTCUSDT"], "synthetic", "june-2024", search="random", samples=5,
                            seed=3, report_dir=str(tmp_path))
    names = [r["strategy"] for r in random_run["ranking"]]
    assert len(names) == len(set(names)) == 5 and set(names) <= set(bt.strategy_variants("sma_grid"))
    optuna_run = sweep_flow(DEMO, "sma_grid", ["BTCUSDT"], "synthetic", "june-2024", search="optuna", samples=6,
                            seed=1, report_dir=str(tmp_path))
    tried = [r["strategy"] for r in optuna_run["ranking"]]
    assert 1 <= len(tried) <= 6 and len(tried) == len(set(tried)) and set(tried) <= set(bt.strategy_variants("sma_grid"))
    assert all(r["params"]["fast"] < r["params"]["slow"] for r in optuna_run["ranking"])  # the constraint holds


def test_walk_forward_chooses_on_the_training_window_alone(prefect_harness, demo, tmp_path):
    """The literal reading: a backtest of each combination that ends at the training window's end (the clock
    stops there, so a trade still open is not counted) must give the flow's choice and its training metric."""
    from flows.walk_forward import walk_forward_flow
    summary = walk_forward_flow(DEMO, "sma_grid", SYMBOLS, "synthetic", "june-2024", train_days=7, test_days=3,
                                report_dir=str(tmp_path))
    assert len(summary["windows"]) == 7 and summary["windows"][1]["test_start"] == summary["windows"][0]["test_end"]
    first = summary["windows"][0]
    bt.add_frame(frame_name="train-1", interval="1m", start_date=first["train_start"],
                 end_date=first["train_end"] - 60_000)
    clock.set_clock(lambda: first["train_end"])
    try:
        means = [(v, direct_mean(v, "sharpe_ratio", "train-1")) for v in bt.strategy_variants("sma_grid")]
    finally:
        clock.set_clock()
    best, value = best_by_metric(means)
    assert (first["variant"], first["train_metric"]) == (best, pytest.approx(value, rel=1e-12))
    oos = summary["out_of_sample"]
    assert set(oos) == set(SYMBOLS) and all(o["total_signals"] > 0 for o in oos.values())
    assert sum(o["total_signals"] for o in oos.values()) == sum(w["test_trades"] for w in summary["windows"])
    text = Path(summary["report"]).read_text()
    assert text.startswith("# Walk-Forward Report: sma_grid") and "**Efficiency ratio:**" in text
    for path in summary["symbol_reports"].values():
        assert Path(path).with_suffix(".png").is_file()


@pytest.mark.parametrize("command", [
    ["sweep", "--strategy", "sma_grid"],
    ["walk-forward", "--strategy", "sma_grid", "--train", "7d", "--test", "3d"],
])
def test_the_commands_run_on_the_demo_data_in_under_a_minute(tmp_path, command):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "flows.cli", *command, "--setup", DEMO, "--symbols",
                           "BTCUSDT,ETHUSDT,SOLUSDT", "--exchange", "synthetic", "--frame", "june-2024",
                           "--report-dir", str(tmp_path / "dump")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - started < 60
    assert "report: " in done.stdout and "sma_grid[" in done.stdout


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--strategy", "sma_cross"], "btk sweep: parameterised strategy 'sma_cross' not found"),
    (["sweep", "--strategy", "sma_grid", "--search", "random"], "btk sweep: random search needs samples"),
    (["sweep", "--strategy", "sma_grid", "--metric", "luck"], "btk sweep: metric must be one of"),
    (["walk-forward", "--strategy", "sma_grid", "--train", "40d", "--test", "3d"],
     "btk walk-forward: no walk-forward window of 40 + 3 days fits in frame june-2024"),
])
def test_bad_requests_fail_in_one_line_before_any_flow(capsys, demo, argv, message):
    from flows.cli import main
    assert main([*argv, "--setup", DEMO, "--symbols", "BTCUSDT", "--exchange", "synthetic",
                 "--frame", "june-2024"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and len(err.splitlines()) == 1
