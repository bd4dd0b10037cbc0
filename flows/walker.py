"""``walker_flow``: run a registered walker on each symbol (one task per symbol) and publish the rankings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact

from flows.runners import make_task_runner
from flows.setup_loader import load_setup
from flows.tasks import artifact_key, check_batch_lookahead, inline_images


@task(name="run_walker", task_run_name="walker {walker_name} {symbol}")
def run_walker(setup: str, symbol: str, walker_name: str, report_dir: str) -> dict[str, Any]:
    """Walker.run on one symbol (SPEC §12); writes its report and chart; returns the best and the path."""
    import btk_core as bt
    load_setup(setup)
    for _ in bt.Walker.run(symbol, walker_name=walker_name):
        pass
    complete = bt.Walker.get_data(symbol, walker_name).complete
    assert complete is not None  # the walker ran to its end above
    path = bt.Walker.dump(symbol, walker_name, path=str(Path(report_dir) / "walker"))
    create_markdown_artifact(inline_images(Path(path).read_text(), str(Path(path).parent)),
                             key=artifact_key("btk-walker", walker_name, symbol),
                             description=f"Walker {walker_name} on {symbol}")
    return {"symbol": symbol, "best_strategy": complete.best_strategy, "best_metric": complete.best_metric,
            "metric": complete.metric, "report": path}


@flow(name="btk-walker")
def walker_flow(setup: str, symbols: list[str], walker_name: str, task_runner: str = "thread",
                report_dir: str = "./dump", lookahead_samples: int = 50) -> list[dict[str, Any]]:
    """Compare the walker's strategies on every symbol; returns the best strategy per symbol. Batch
    strategies are first checked for look-ahead like in ``backtest_flow`` (0 skips the check)."""
    from btk_core.orchestration import lookup
    from flows.backtest import check_symbols
    load_setup(setup)
    walker = lookup("walker", walker_name)
    for warning in check_symbols(setup, list(symbols), walker.exchange_name, walker.frame_name).values():
        get_run_logger().warning(warning)  # an unusable source or no candles at all fail here, in one line
    batch = [g for g in walker.strategies if lookup("strategy", g).get_signals is not None]
    # the task runner is entered here, like backtest_flow does: the tasks and their artifacts belong to the run
    # the user opens (a subflow would hide them one level down)
    with make_task_runner(task_runner) as runner:
        if lookahead_samples:
            pairs = [(s, g) for g in batch for s in symbols]
            checks = runner.map(check_batch_lookahead, {
                "setup": unmapped(setup), "symbol": [s for s, _ in pairs], "strategy": [g for _, g in pairs],
                "exchange_name": unmapped(walker.exchange_name), "frame_name": unmapped(walker.frame_name),
                "samples": unmapped(lookahead_samples)}) if pairs else []
            for check in checks:
                check.result()
        futures = runner.map(run_walker, {"setup": unmapped(setup), "symbol": list(symbols),
                                          "walker_name": unmapped(walker_name), "report_dir": unmapped(report_dir)})
        return [f.result() for f in futures]
