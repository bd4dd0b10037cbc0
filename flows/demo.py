"""``btk demo``: the backtest flow on the example setup (synthetic exchange, three strategies of
different styles, three symbols, June 2024), in Prefect's ephemeral mode: prints the ranking and
where the reports and pictures were written."""
from __future__ import annotations

from pathlib import Path
from typing import Any

DEMO_SETUP = Path(__file__).resolve().parent.parent / "examples" / "demo_setup.py"


def _cell(x: float | None, spec: str, unit: str = "", width: int = 0) -> str:
    """A table cell, right-aligned to ``width`` whether it holds a number or N/A."""
    return ("N/A" if x is None else format(x, spec) + unit).rjust(width)


def print_summary(summary: Any, metric: str) -> None:
    """The per-pair statistics table, the ranking and the report paths of a backtest flow run (the flow's
    return value: a summary dict; a stopped run raises instead)."""
    columns = (("compounded", "compounded_return", "+.2f", "%"), ("max dd", "max_drawdown", ".2f", "%"),
               ("win rate", "win_rate", ".1f", "%"), ("profit f.", "profit_factor", ".2f", ""),
               ("sharpe", "sharpe_ratio", ".3f", ""), ("buy&hold", "buy_and_hold_return", "+.2f", "%"))
    wide = max([len("strategy"), *(len(p["strategy"]) for p in summary["pairs"])])
    narrow = max([len("symbol"), *(len(p["symbol"]) for p in summary["pairs"])])
    header = f"{'strategy':<{wide}} {'symbol':<{narrow}} {'trades':>6} " + " ".join(f"{n:>10}" for n, *_ in columns)
    for warning in summary.get("warnings", []):
        print(f"warning: {warning}")
    print(header + "\n" + "-" * len(header))
    for pair in summary["pairs"]:
        s = pair["stats"]
        cells = " ".join(_cell(s.get(key), spec, unit, 10) for _, key, spec, unit in columns)
        print(f"{pair['strategy']:<{wide}} {pair['symbol']:<{narrow}} {s['total_signals']:>6} {cells}")
    print(f"\nRanking by {metric}:")
    for symbol, info in summary["ranking"].items():
        order = ", ".join(f"{s} ({_cell(v, '.3f')})" for s, v in info["ranking"])
        print(f"  {symbol:<8} best: {info['best_strategy'] or 'N/A'}   [{order}]")
    print("\nReports and pictures:")
    walker = [info["report"] for info in summary["ranking"].values()]
    for path in list(summary["reports"].values()) + list(summary["heatmaps"].values()) + walker:
        png = Path(path).with_suffix(".png")
        print(f"  {path}" + (f"  (+ {png.name})" if png.exists() else ""))


def main(report_dir: str = "./dump", setup: str | None = None) -> int:
    from flows.backtest import backtest_flow
    from flows.setup_loader import load_setup

    setup = str(setup or DEMO_SETUP)
    demo = load_setup(setup)
    print(f"Backtest flow: {len(demo.STRATEGIES)} strategies x {len(demo.SYMBOLS)} symbols on '{demo.EXCHANGE}', "
          f"frame '{demo.FRAME}' (Prefect, ephemeral mode)\n", flush=True)
    summary = backtest_flow(setup, demo.SYMBOLS, demo.STRATEGIES, demo.EXCHANGE, demo.FRAME, report_dir=report_dir)
    print()
    print_summary(summary, "sharpe_ratio")
    return 0
