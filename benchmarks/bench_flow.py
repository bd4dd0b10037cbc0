#!/usr/bin/env python3
"""Prefect overhead of the backtest flow: the flow (thread runner, ephemeral API already started) against the
same task functions called directly, on the demo: 3 strategies x 3 symbols x 1 month. Prints both and the
overhead per task, also net of the fixed cost of a flow call (an empty flow, timed the same way).
Each run writes to a fresh report folder and refreshes the cache, so the backtests always run."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def main() -> None:
    from prefect import flow

    from flows.backtest import backtest_flow, plan_groups
    from flows.demo import DEMO_SETUP
    from flows.setup_loader import load_setup
    from flows.tasks import rank_strategies, render_backtest_reports, run_backtest, write_heatmap, write_reports

    @flow(name="btk-empty")
    def empty() -> None:
        """The fixed cost of calling a flow: create, run and finish a flow run on the API."""

    setup = str(DEMO_SETUP)
    demo = load_setup(setup)
    args = (setup, demo.SYMBOLS, demo.STRATEGIES, demo.EXCHANGE, demo.FRAME)
    with tempfile.TemporaryDirectory() as tmp:
        backtest_flow(*args, report_dir=f"{tmp}/warm")  # starts the ephemeral API, warms imports and blocks
        t0 = time.perf_counter()
        backtest_flow(*args, report_dir=f"{tmp}/flow", refresh=True)
        flow_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        groups = plan_groups(setup, demo.SYMBOLS, demo.STRATEGIES)
        results = [pair for group in groups for pair in run_backtest.fn(setup, group, demo.EXCHANGE, demo.FRAME)]
        rank_strategies.fn(results, demo.STRATEGIES, "sharpe_ratio", demo.EXCHANGE, demo.FRAME, f"{tmp}/direct")
        for strategy in demo.STRATEGIES:
            write_heatmap.fn(results, strategy, f"{tmp}/direct")
        write_reports.fn(results, render_backtest_reports.fn(results, f"{tmp}/direct"))
        direct_s = time.perf_counter() - t0
        empty()
        t0 = time.perf_counter()
        empty()
        empty_s = time.perf_counter() - t0
    tasks = len(groups) + 1 + len(demo.STRATEGIES) + 2  # run_backtest per group, rank, heatmaps, render, reports
    print(f"flow={flow_s:.2f}s  same work called directly={direct_s:.2f}s  tasks={tasks}  "
          f"overhead per task={(flow_s - direct_s) / tasks * 1000:.0f} ms  empty flow={empty_s:.2f}s  "
          f"per task net of it={(flow_s - direct_s - empty_s) / tasks * 1000:.0f} ms")


if __name__ == "__main__":
    main()
