"""Serve the btk flows from this process (no work pool needed):

    prefect server start &                                   # UI on http://127.0.0.1:4200
    PREFECT_API_URL=http://127.0.0.1:4200/api python deployments/serve.py

The backtest runs nightly, the walker hourly, and the live and optimizer flows on demand (trigger them from
the UI or with ``prefect deployment run 'btk-live/live-on-demand'``). Served runs emit heartbeats, and the
"crash zombie flow runs" automation of ``deployments/automations.py`` is created at start, so a run whose
process was killed is marked Crashed instead of staying Running. Parameters point at
``examples/demo_setup.py`` and ``examples/optimizer_setup.py`` (the optimizer needs an Ollama: ``OLLAMA_HOST``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# served runs emit flow heartbeats, which the zombie automation watches (set before Prefect reads settings)
os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")

from flows.backtest import backtest_flow  # noqa: E402
from flows.live import live_flow  # noqa: E402
from flows.optimizer import optimizer_flow  # noqa: E402
from flows.walker import walker_flow  # noqa: E402

SETUP = str(ROOT / "examples" / "demo_setup.py")
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def deployments() -> list:
    """The served deployments (also what the tests check)."""
    return [
        backtest_flow.to_deployment(
            name="nightly-backtest", cron="0 2 * * *",
            parameters={"setup": SETUP, "symbols": SYMBOLS, "strategies": ["sma_cross", "dip_buyer", "breakout"],
                        "exchange_name": "synthetic", "frame_name": "june-2024", "report_dir": str(ROOT / "dump")}),
        walker_flow.to_deployment(
            name="hourly-walker", cron="0 * * * *",
            parameters={"setup": SETUP, "symbols": SYMBOLS, "walker_name": "compare",
                        "report_dir": str(ROOT / "dump")}),
        live_flow.to_deployment(
            name="live-on-demand",
            parameters={"setup": SETUP, "symbol": "BTCUSDT", "strategy_name": "sma_cross",
                        "exchange_name": "synthetic", "broker": "paper"}),
        optimizer_flow.to_deployment(
            name="optimizer-on-demand",
            parameters={"setup": str(ROOT / "examples" / "optimizer_setup.py"), "optimizer_name": "llm-synthetic",
                        "symbol": "BTCUSDT", "module_dir": str(ROOT / "dump" / "optimizer"),
                        "report_dir": str(ROOT / "dump")}),
    ]


if __name__ == "__main__":
    from prefect import serve

    from deployments.automations import ensure, zombie_runs
    ensure(zombie_runs())  # a killed served run is marked Crashed instead of staying Running
    serve(*deployments())
