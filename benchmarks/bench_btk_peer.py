#!/usr/bin/env python3
"""btk through the peers' own timing harness (../shared/bench/peers/common.py): one cold run, then N warm runs,
median reported as one JSON line, exactly like bench_vectorbt.py & co.

    python benchmarks/bench_btk_peer.py DATA.parquet --repeats 3 [--batch]

``--batch`` runs the batch form of the strategy (``get_signals``) instead of the event form; ``--rows`` serves
the candles through a plain user source answering ``[ts, o, h, l, c, v]`` lists instead of in place.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
t_import = time.perf_counter()
import btk_core as bt  # noqa: E402

IMPORT_S = time.perf_counter() - t_import

from benchmarks import _peers, reference_strategy  # noqa: E402

common = _peers.load("common")


def main() -> None:
    batch, rows = "--batch" in sys.argv, "--rows" in sys.argv
    sys.argv = [a for a in sys.argv if a not in ("--batch", "--rows")]
    strategy = "sma-batch" if batch else "sma"
    args = common.parse_args()
    def load():
        data = common.load_arrays(args.data)
        reference_strategy.register(data, source="rows" if rows else "memory")  # in place: like the peers' arrays
        return data

    def run(_data):
        trades = list(bt.Backtest.run("BENCH", strategy_name=strategy, exchange_name="bench", frame_name="bench"))
        growth = 1.0
        for t in trades:
            growth *= 1 + t.pnl.pnl_percentage / 100
        return len(trades), growth - 1.0, None

    common.bench(("btk batch" if batch else "btk") + (" rows" if rows else ""), args, load, run, import_s=IMPORT_S)


if __name__ == "__main__":
    main()
