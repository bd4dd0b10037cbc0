"""``walk_forward_flow``: choose a parameterised strategy's combination on each training window, trade it on
the test window that follows, and stitch the out-of-sample trades.

    from flows.walk_forward import walk_forward_flow
    summary = walk_forward_flow("examples/demo_setup.py", "sma_grid", ["BTCUSDT"], "synthetic", "june-2024",
                                train_days=7, test_days=3)

Every training window's sweep runs at once (mapped, cached batches, like ``sweep_flow``); a window's choice
counts only the trades closed by its training end, so its test window never informs it. The report has the
per-window table (chosen parameters, train and test metric), the stitched out-of-sample statistics per symbol
(SPEC §20.4) with a backtest report and equity chart each, and the efficiency ratio (out-of-sample daily return
over in-sample daily return of the chosen combinations).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.runners import make_task_runner
from flows.setup_loader import load_setup
from flows.sweep import batches, check_sweep, run_batches, score
from flows.tasks import artifact_key, closed_from_json, inline_images, rounded

DAY_MS = 86_400_000


@flow(name="btk-walk-forward")
def walk_forward_flow(setup: str, strategy: str, symbols: list[str], exchange_name: str, frame_name: str,
                      train_days: float, test_days: float, step_days: float | None = None, anchored: bool = False,
                      metric: str = "sharpe_ratio", search: str = "grid", samples: int | None = None, seed: int = 0,
                      batch_size: int | None = None, task_runner: str = "thread", dask_address: str | None = None,
                      report_dir: str = "./dump") -> dict[str, Any]:
    """Walk-forward optimisation of ``strategy`` over the frame; returns the windows, the stitched statistics
    per symbol, the efficiency ratio and the report path."""
    from btk_core.orchestration import INTERVAL_MS, best_by_metric, choose, daily_rate, efficiency_ratio, lookup
    family = check_sweep(setup, strategy, exchange_name, frame_name, metric, search, samples)
    frame = lookup("frame", frame_name)
    step = INTERVAL_MS[frame.interval]
    plan = plan_windows(setup, frame_name, train_days, test_days, step_days, anchored)
    symbols = list(symbols)
    variants = [family.variant_name(c) for c in choose(family, search, samples, seed)]
    with make_task_runner(task_runner, address=dask_address) as runner:
        groups = batches(variants, batch_size)
        train = run_batches(runner, setup, [(g, (w.train_start, w.train_end - step, w.train_end)) for w in plan
                                            for g in groups], symbols, exchange_name, frame_name,
                            what="training windows")
        chosen = []
        for k, window in enumerate(plan):
            rows = [row for batch in train[k * len(groups):(k + 1) * len(groups)] for row in batch]
            scores = score(rows, metric)
            best, _ = best_by_metric([(v, s["metric"]) for v, s in scores.items()])
            chosen.append((window, best or variants[0], scores))  # no finite value anywhere: the first combination
        tests = run_batches(runner, setup, [([v], (w.test_start, w.test_end - step, None)) for w, v, _ in chosen],
                            symbols, exchange_name, frame_name, trades=True, what="test windows")
    table: list[dict[str, Any]] = []
    stitched: dict[str, list[dict[str, Any]]] = {s: [] for s in symbols}
    for (window, variant, scores), rows in zip(chosen, tests):
        tested = score(rows, metric)[variant]
        in_days = (window.train_end - window.train_start) / DAY_MS
        out_days = (window.test_end - window.test_start) / DAY_MS
        table.append({"window": window.index + 1, "train_start": window.train_start, "train_end": window.train_end,
                      "test_start": window.test_start, "test_end": window.test_end, "variant": variant,
                      "params": family.parse(variant), "train_metric": scores[variant]["metric"],
                      "test_metric": tested["metric"], "train_return": scores[variant]["compounded_return"],
                      "test_return": tested["compounded_return"], "test_trades": tested["trades"],
                      "train_daily": daily_rate(scores[variant]["compounded_return"], in_days),
                      "test_daily": daily_rate(tested["compounded_return"], out_days)})
        for row in rows:
            stitched[row["symbol"]] += row["closed"]
    summary: dict[str, Any] = {
               "strategy": strategy, "symbols": symbols, "exchange_name": exchange_name, "frame_name": frame_name,
               "metric": metric, "search": search, "combinations": len(variants), "anchored": anchored,
               "train_days": train_days, "test_days": test_days, "step_days": step_days or test_days,
               "windows": table, "efficiency_ratio": efficiency_ratio([w["train_daily"] for w in table],
                                                                     [w["test_daily"] for w in table])}
    summary.update(write_walk_forward(summary, stitched, plan[0].test_start, plan[-1].test_end, report_dir))
    report = Path(summary["report"])
    create_markdown_artifact(inline_images(report.read_text(), str(report.parent)),
                             key=artifact_key("btk-walk-forward", strategy, frame_name),
                             description=f"Walk-forward of {strategy} on {frame_name}")
    create_table_artifact(rounded([{k: v for k, v in w.items() if k != "params"} | w["params"] for w in table]),
                          key=artifact_key("btk-walk-forward-windows", strategy, frame_name),
                          description=f"Walk-forward windows of {strategy}")
    get_run_logger().info("walk-forward %s: %d windows, efficiency ratio %s", strategy, len(table),
                          summary["efficiency_ratio"])
    return summary


def plan_windows(setup: str, frame_name: str, train_days: float, test_days: float, step_days: float | None,
                 anchored: bool) -> list[Any]:
    """The frame's walk-forward windows; ``ValueError`` in one line when none fits (checked before a flow)."""
    from btk_core.orchestration import INTERVAL_MS, lookup, walk_forward_windows
    load_setup(setup)
    frame = lookup("frame", frame_name)
    plan = walk_forward_windows(frame.start_ms, frame.end_ms + INTERVAL_MS[frame.interval], round(train_days * DAY_MS),
                                round(test_days * DAY_MS), round(step_days * DAY_MS) if step_days else None, anchored)
    if not plan:
        raise ValueError(f"no walk-forward window of {train_days:g} + {test_days:g} days fits in frame {frame_name}")
    return plan


def write_walk_forward(summary: dict[str, Any], stitched: dict[str, list[dict[str, Any]]], start: int, end: int,
                       report_dir: str) -> dict[str, Any]:
    """The stitched out-of-sample backtest report of each symbol (with its equity chart) and the walk-forward
    report; returns the statistics per symbol and the report paths."""
    from btk_core.orchestration import STAT_FIELDS, Span, backtest_statistics, dump, safe_name, walk_forward_report
    from btk_core.orchestration import write_backtest as write
    folder = Path(report_dir) / "walk_forward"
    label = f"{summary['strategy']} walk-forward"
    stats, reports = {}, {}
    for symbol, closed in stitched.items():
        trades = sorted((closed_from_json(c) for c in closed), key=lambda r: r.close_timestamp, reverse=True)
        result = backtest_statistics(trades, Span(start, end))
        stats[symbol] = {f: getattr(result, f) for f in STAT_FIELDS}
        reports[symbol] = write(symbol, label, result, str(folder), Span(start, end))
    out = {"out_of_sample": stats, "symbol_reports": reports}
    stem = f"{safe_name(summary['strategy'])}_{safe_name(summary['frame_name'])}"
    dump(json.dumps({**summary, **out}, indent=1, allow_nan=False, default=str), str(folder), f"{stem}.json")
    out["report"] = dump(walk_forward_report({**summary, **out}), str(folder), f"{stem}.md")
    return out
