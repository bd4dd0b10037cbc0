"""``backtest_flow``: backtest strategies x symbols, rank them, write heatmaps and reports.

    from flows.backtest import backtest_flow
    summary = backtest_flow("examples/demo_setup.py", ["BTCUSDT", "ETHUSDT"], ["sma_cross", "breakout"],
                            "synthetic", "june-2024")

Pairs whose strategy names a risk profile run together as one portfolio task (shared risk needs one
time order, SPEC §8); every other pair is its own mapped task.
"""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.states import Cancelled, State

from flows.interrupt import Interrupted, stop_backtests_on_signals
from flows.runners import make_task_runner
from flows.setup_loader import load_setup
from flows.tasks import (
    check_batch_lookahead,
    rank_strategies,
    render_backtest_reports,
    run_backtest,
    shared,
    write_heatmap,
    write_reports,
)


def plan_groups(setup: str, symbols: list[str], strategies: list[str]) -> list[list[list[str]]]:
    """One group per independent pair; the pairs of strategies sharing a risk profile in one group."""
    from btk_core.orchestration import lookup
    load_setup(setup)
    groups: list[list[list[str]]] = []
    shared: dict[tuple[str, ...], list[list[str]]] = {}
    for strategy in strategies:
        risk = lookup("strategy", strategy).risk_names
        for symbol in symbols:
            if risk:
                shared.setdefault(risk, []).append([symbol, strategy])
            else:
                groups.append([[symbol, strategy]])
    return groups + list(shared.values())


RUN_FILE = "btk-run.json"


def save_run(report_dir: str, run: dict[str, Any]) -> str:
    """Keep what a run produced (``<report_dir>/btk-run.json``) so its reports can be rendered again."""
    import json

    from btk_core.orchestration import atomic_write
    return str(atomic_write(Path(report_dir) / RUN_FILE, json.dumps(run, allow_nan=False).encode()))


def check_request(setup: str, strategies: list[str], exchange_name: str, frame_name: str, metric: str,
                  task_runner: str = "thread") -> None:
    """Fail fast, with one clear message, on anything a run would trip over (used before the flow starts)."""
    from btk_core.orchestration import WALKER_METRICS, lookup
    from flows.runners import RUNNERS
    load_setup(setup)
    if metric not in WALKER_METRICS:
        raise ValueError(f"metric must be one of {list(WALKER_METRICS)}, got {metric!r}")
    if task_runner not in RUNNERS:
        raise ValueError(f"task_runner must be one of {list(RUNNERS)}, got {task_runner!r}")
    lookup("exchange", exchange_name)
    lookup("frame", frame_name)
    for name in strategies:
        lookup("strategy", name)


class NoCandlesError(ValueError):
    """No symbol of the request has 1m candles in the frame: the run would only report N/A."""


def check_symbols(setup: str, symbols: list[str], exchange_name: str, frame_name: str) -> dict[str, str]:
    """Probe each symbol's candles in the frame (``btk_core.check_data``) before any backtest: a source that
    cannot be used raises its ``CandleFetchError`` at once; returns ``{symbol: warning}`` for the symbols
    without candles; ``NoCandlesError`` when none has any."""
    import btk_core as bt
    load_setup(setup)
    empty = {}
    for symbol in symbols:
        found = bt.check_data(symbol, exchange_name, frame_name)
        if not found.ok:
            empty[symbol] = found.message
    if empty and len(empty) == len(symbols):
        raise NoCandlesError("; ".join(empty.values()))
    return empty


@flow(name="btk-backtest")
def backtest_flow(setup: str, symbols: list[str], strategies: list[str], exchange_name: str, frame_name: str,
                  metric: str = "sharpe_ratio", task_runner: str = "thread", report_dir: str = "./dump",
                  dask_address: str | None = None, refresh: bool = False,
                  lookahead_samples: int = 50) -> dict[str, Any] | State[Any]:
    """Backtest every strategy x symbol, rank the strategies per symbol by ``metric`` and write the reports.
    Returns the statistics per pair, the ranking and the report paths. ``refresh=True`` ignores cached
    backtests (the cache key hashes the setup file, not modules it imports). Batch strategies
    (``get_signals``) are first checked for look-ahead on ``lookahead_samples`` decision times per symbol
    (``LookAheadError`` fails the run; 0 skips the check).

    The backtest tasks go to the chosen task runner, entered here rather than through a subflow (a flow
    call costs about a second of Prefect bookkeeping); ranking, heatmaps and reports are small tasks."""
    from btk_core.orchestration import lookup
    check_request(setup, strategies, exchange_name, frame_name, metric, task_runner)
    symbols, strategies = list(symbols), list(strategies)
    empty = check_symbols(setup, symbols, exchange_name, frame_name)
    for warning in empty.values():
        get_run_logger().warning(warning)
    groups = plan_groups(setup, symbols, strategies)
    with stop_backtests_on_signals() as received, make_task_runner(task_runner, address=dask_address) as runner:
        if lookahead_samples:
            batch = [[s, g] for g in strategies if lookup("strategy", g).get_signals is not None for s in symbols]
            checks = runner.map(check_batch_lookahead, {
                "setup": unmapped(setup), "symbol": [s for s, _ in batch], "strategy": [g for _, g in batch],
                "exchange_name": unmapped(exchange_name), "frame_name": unmapped(frame_name),
                "samples": unmapped(lookahead_samples)}) if batch else []
            for check in checks:
                check.result()
        backtest = run_backtest.with_options(refresh_cache=True) if refresh else run_backtest
        futures = runner.map(backtest, {"setup": unmapped(setup), "pairs": groups,
                                            "exchange_name": unmapped(exchange_name),
                                            "frame_name": unmapped(frame_name)})
        try:
            results = [pair for future in futures for pair in future.result()]
        except Interrupted:
            results = []
    if received:  # nothing half-done is ranked, reported or cached
        return Cancelled(message="stopped by " + " then ".join(signal.Signals(s).name for s in received)
                         + "; no report was written")
    order = {(s, g): k for k, (s, g) in enumerate((s, g) for g in strategies for s in symbols)}
    results.sort(key=lambda r: order[(r["symbol"], r["strategy"])])
    for r in results:
        r["warning"] = empty.get(r["symbol"])
    ranking = rank_strategies(shared(results), strategies, metric, exchange_name, frame_name, report_dir)
    heatmaps = {strategy: write_heatmap(shared(results), strategy, report_dir) for strategy in strategies}
    reports = write_reports(shared(results), render_backtest_reports(shared(results), report_dir))
    save_run(report_dir, {"setup": setup, "symbols": symbols, "strategies": strategies, "exchange_name": exchange_name,
                          "frame_name": frame_name, "metric": metric, "results": results})
    return {"pairs": [{k: r[k] for k in ("symbol", "strategy", "stats")} for r in results],
            "ranking": ranking, "heatmaps": heatmaps, "reports": reports, "warnings": list(empty.values())}
