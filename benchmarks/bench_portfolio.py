#!/usr/bin/env python3
"""Portfolio backtest vs the same pairs run one by one: 3 symbols x 2 strategies x 1 month of the
demo setup (synthetic exchange). Prints both wall times and their ratio."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import btk_core as bt
from flows.demo import DEMO_SETUP
from flows.setup_loader import load_setup


def median_time(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    demo = load_setup(str(DEMO_SETUP))
    pairs = [(symbol, strategy) for symbol in demo.SYMBOLS for strategy in ("sma_cross", "dip_buyer")]

    def singles() -> int:
        return sum(len(list(bt.Backtest.run(s, strategy_name=g, exchange_name=demo.EXCHANGE, frame_name=demo.FRAME)))
                   for s, g in pairs)

    def portfolio() -> int:
        return len(list(bt.Backtest.run_portfolio(pairs, exchange_name=demo.EXCHANGE, frame_name=demo.FRAME)))

    assert singles() == portfolio()
    t_single, t_port = median_time(singles), median_time(portfolio)
    print(f"pairs={len(pairs)}  trades={portfolio()}  singles={t_single:.3f}s  portfolio={t_port:.3f}s  "
          f"ratio={t_port / t_single:.2f}")


if __name__ == "__main__":
    main()
