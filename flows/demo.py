"""``btk demo``: real backtests of the example strategies on the embedded synthetic exchange, with
reports and pictures written under ``report_dir``."""
from __future__ import annotations

import time
from pathlib import Path

DEMO_SETUP = Path(__file__).resolve().parent.parent / "examples" / "demo_setup.py"


def _cell(x: float | None, spec: str) -> str:
    return "N/A" if x is None else format(x, spec)


def main(report_dir: str = "./dump", setup: str | None = None) -> int:
    import btk_core as bt
    from btk_core.registry import lookup
    from flows.setup_loader import load_setup

    demo = load_setup(str(setup or DEMO_SETUP))
    out = Path(report_dir)
    print(f"Backtesting {len(demo.STRATEGIES)} strategies x {len(demo.SYMBOLS)} symbols on "
          f"'{demo.EXCHANGE}', frame '{demo.FRAME}'\n")
    started = time.perf_counter()
    stop_recording = bt.record_details()
    for strategy in demo.STRATEGIES:
        pairs = [(symbol, strategy) for symbol in demo.SYMBOLS]
        if lookup("strategy", strategy).risk_names:  # a shared risk profile: one time-ordered run
            runs = [bt.Backtest.run_portfolio(pairs, exchange_name=demo.EXCHANGE, frame_name=demo.FRAME)]
        else:
            runs = [bt.Backtest.run(s, strategy_name=g, exchange_name=demo.EXCHANGE, frame_name=demo.FRAME)
                    for s, g in pairs]
        for run in runs:
            for _ in run:
                pass
    header = f"{'strategy':<10} {'symbol':<8} {'trades':>6} {'win rate':>9} {'total pnl':>10} {'sharpe':>7}"
    print(header + "\n" + "-" * len(header))
    written: list[str] = []
    for strategy in demo.STRATEGIES:
        for symbol in demo.SYMBOLS:
            s = bt.Backtest.get_data(symbol, strategy)
            print(f"{strategy:<10} {symbol:<8} {s.total_signals:>6} {_cell(s.win_rate, '8.1f')}% "
                  f"{_cell(s.total_pnl, '+9.2f')}% {_cell(s.sharpe_ratio, '7.3f')}")
            written.append(bt.Backtest.dump(symbol, strategy, path=str(out / "backtest")))
            for api, kind in ((bt.Schedule, "schedule"), (bt.Risk, "risk"), (bt.Partial, "partial"),
                              (bt.Performance, "performance")):
                api.dump(symbol, strategy, path=str(out / kind))
        written.append(bt.Heat.dump(strategy, path=str(out / "heatmap")))
    stop_recording()
    print("\nRanking by sharpe_ratio (walker):")
    for symbol in demo.SYMBOLS:
        for _ in bt.Walker.run(symbol, walker_name=demo.WALKER):
            pass
        complete = bt.Walker.get_data(symbol, demo.WALKER).complete
        print(f"  {symbol:<8} best: {complete.best_strategy or 'N/A'} "
              f"(sharpe {_cell(complete.best_metric, '.3f')})")
        written.append(bt.Walker.dump(symbol, demo.WALKER, path=str(out / "walker")))
    print(f"\nReports and pictures ({time.perf_counter() - started:.1f} s):")
    for path in written:
        png = Path(path).with_suffix(".png")
        print(f"  {path}" + (f"  (+ {png.name})" if png.exists() else ""))
    print(f"  schedule, risk, partial and performance reports per pair under {out}/")
    return 0
