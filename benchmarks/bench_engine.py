#!/usr/bin/env python3
"""Engine benchmark: the reference strategy through ``get_signal`` and ``get_signals`` on the peers'
data, and the engine's own cost per ``get_signal`` call. Prints one line per measurement; never a test.

    python benchmarks/bench_engine.py [--sizes 1m,1y] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import btk_core as bt
from benchmarks import _peers, reference_strategy
from btk_core import registry
from btk_core.exchanges import add_memory_exchange


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up: first block loads, page cache
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_reference(data: dict, repeats: int) -> None:
    """The reference strategy in both forms, unobserved (what a flow or ``btk backtest`` runs) and with a
    progress listener (which makes every step observed: the general loop instead of the sweep)."""
    registry.clear_registry()
    reference_strategy.register(data)
    for strategy in ("sma", "sma-batch"):
        for observed in (False, True):
            def run(strategy: str = strategy) -> list:
                return list(bt.Backtest.run("BENCH", strategy_name=strategy, exchange_name="bench",
                                            frame_name="bench"))

            unsubscribe = bt.listen_backtest_progress(lambda event: None) if observed else None
            seconds, trades = timed(run, repeats)
            if unsubscribe is not None:
                unsubscribe()
            growth = 1.0
            for t in trades:
                growth *= 1 + t.pnl.pnl_percentage / 100
            n = len(data["close"])
            name = strategy + (" +listener" if observed else "")
            print(f"{name:<20} candles={n:>9,}  trades={len(trades):>5}  total_return={100 * (growth - 1):+.2f}%  "
                  f"median={seconds:.3f}s  candles/s={n / seconds:,.0f}")


def bench_overhead(data: dict, repeats: int) -> None:
    registry.clear_registry()
    start, n = int(data["timestamp"][0]), len(data["close"])
    add_memory_exchange("bench", {"BENCH": data})
    calls = [0]

    def nothing(symbol, when):
        calls[0] += 1
        return None

    bt.add_strategy(strategy_name="none", interval="1m", get_signal=nothing)
    bt.add_frame(frame_name="all", interval="1m", start_date=start + 10 * 60_000, end_date=start + (n - 1) * 60_000)

    def run() -> None:
        calls[0] = 0
        for _ in bt.Backtest.run("BENCH", strategy_name="none", exchange_name="bench", frame_name="all"):
            pass

    seconds, _ = timed(run, repeats)
    print(f"{'overhead':<20} calls={calls[0]:>9,}  median={seconds:.3f}s  per_call={seconds / calls[0] * 1e6:.2f}us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1m,1y", help="comma list of 1m,1y,4y")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for size in args.sizes.split(","):
        data = _peers.load("make_data").make_candles(_peers.SIZES[size])
        bench_reference(data, args.repeats)
        bench_overhead(data, args.repeats)


if __name__ == "__main__":
    main()
