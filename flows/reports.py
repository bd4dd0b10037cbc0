"""``reports_flow``: render every report of a previous backtest flow run again from its run file.

    btk report --run ./dump/btk-run.json            # e.g. after changing templates or CC_REPORT_SHOW_SIGNAL_NOTE

The run file (``btk-run.json`` in the run's report folder) holds each pair's statistics and closed trades,
so nothing is backtested again: the backtest reports, heatmaps and walker reports are rendered from it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow

from flows.tasks import rank_strategies, render_backtest_reports, shared, write_heatmap


def load_run(run_file: str) -> dict[str, Any]:
    path = Path(run_file)
    if not path.is_file():
        raise ValueError(f"run file {run_file!r} does not exist (a backtest flow writes <report_dir>/btk-run.json)")
    try:
        run = json.loads(path.read_text())
        run["results"], run["strategies"], run["metric"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{run_file} is not a btk run file: {exc}") from exc
    return run


@flow(name="btk-reports")
def reports_flow(run_file: str, report_dir: str | None = None) -> dict[str, Any]:
    """Render the reports of a saved run into ``report_dir`` (default: the run's own folder)."""
    run = load_run(run_file)
    report_dir = report_dir or str(Path(run_file).parent)
    results = run["results"]
    paths = render_backtest_reports(shared(results), report_dir)
    return {"reports": {f"{r['symbol']}/{r['strategy']}": p for p, r in zip(paths, results)},
            "heatmaps": {s: write_heatmap(shared(results), s, report_dir) for s in run["strategies"]},
            "ranking": rank_strategies(shared(results), run["strategies"], run["metric"], run["exchange_name"],
                                       run["frame_name"], report_dir)}
