"""``btk demo``: a real backtest of the example strategies on the embedded synthetic exchange."""
from __future__ import annotations

import time
from pathlib import Path

DEMO_SETUP = Path(__file__).resolve().parent.parent / "examples" / "demo_setup.py"


def _cell(x: float | None, spec: str) -> str:
    return "N/A" if x is None else format(x, spec)


def main(report_dir: str = "./dump", setup: str | None = None) -> int:
    from btk_core import Backtest
    from flows.setup_loader import load_setup

    demo = load_setup(str(setup or DEMO_SETUP))
    print(f"Backtesting {len(demo.STRATEGIES)} strategies x {len(demo.SYMBOLS)} symbols on "
          f"'{demo.EXCHANGE}', frame '{demo.FRAME}'\n")
    header = f"{'strategy':<10} {'symbol':<8} {'trades':>6} {'win rate':>9} {'total pnl':>10} {'sharpe':>7}"
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    for strategy in demo.STRATEGIES:
        for symbol in demo.SYMBOLS:
            for _ in Backtest.run(symbol, strategy_name=strategy, exchange_name=demo.EXCHANGE,
                                  frame_name=demo.FRAME):
                pass
            s = Backtest.get_data(symbol, strategy)
            print(f"{strategy:<10} {symbol:<8} {s.total_signals:>6} {_cell(s.win_rate, '8.1f')}% "
                  f"{_cell(s.total_pnl, '+9.2f')}% {_cell(s.sharpe_ratio, '7.3f')}")
    print(f"\n{len(demo.STRATEGIES) * len(demo.SYMBOLS)} backtests in {time.perf_counter() - started:.1f} s")
    return 0
