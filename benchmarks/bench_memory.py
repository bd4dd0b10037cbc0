#!/usr/bin/env python3
"""Peak memory of btk alone: 4 years of 1m candles written to parquet by a child process, then read through
``add_files_exchange`` (as a user would) and backtested with the reference strategy in both forms.

    python benchmarks/bench_memory.py [--size 4y]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="4y")
    args = ap.parse_args()
    from benchmarks import _peers
    with tempfile.TemporaryDirectory() as tmp:
        code = ("import sys; from benchmarks import _peers; from btk_core.exchanges import write_candles; "
                "write_candles(sys.argv[1], 'BENCH', '1m', _peers.load('make_data').make_candles(int(sys.argv[2])))")
        subprocess.run([sys.executable, "-c", code, tmp, str(_peers.SIZES[args.size])], check=True, cwd=ROOT)
        import btk_core as bt
        from benchmarks import reference_strategy
        from btk_core.exchanges import add_files_exchange
        from btk_core.exchanges.files import load_columns
        # strategies and frame of the reference; candles from the files exchange (the memory exchange that
        # register() also adds serves the very same arrays, read once by load_columns)
        reference_strategy.register(dict(zip(("timestamp", "open", "high", "low", "close", "volume"),
                                             load_columns(tmp, "BENCH", "1m"))))
        add_files_exchange("files", tmp)
        for strategy in ("sma", "sma-batch"):
            t0 = time.perf_counter()
            trades = list(bt.Backtest.run("BENCH", strategy_name=strategy, exchange_name="files", frame_name="bench"))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{args.size} {strategy:<10} trades={len(trades)}  {time.perf_counter() - t0:.2f}s  "
                  f"peak RSS so far {peak:.0f} MB")


if __name__ == "__main__":
    main()
