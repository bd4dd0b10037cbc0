"""The sweep benchmark's setup (loaded by path in every worker): the reference workload's candles from the
parquet file named by ``BTK_BENCH_DATA``, served in place, and ``sma_grid``: the reference SMA cross in batch
form over a 64-combination grid (fast x slow x TP/SL width)."""
from __future__ import annotations

import os
from functools import partial

import numpy as np
import pyarrow.parquet as pq

from benchmarks.reference_strategy import MAX_HOLD, sma
from btk_core import add_frame, add_strategy, set_config
from btk_core.exchanges import add_memory_exchange

GRID = {"fast": [5, 10, 15, 20], "slow": [30, 60, 90, 120], "width": [0.8, 1.0, 1.5, 2.0]}  # SL >= 0.5 % (SPEC §3.5)


def sma_signals(symbol, candles, fast, slow, width):
    """SMA ``fast`` crossing above SMA ``slow`` of 5m closes goes long, TP/SL ``width`` % away, 24 h at most."""
    import pandas as pd
    close = candles.close
    f, s = sma(close, fast), sma(close, slow)
    cross = np.zeros(len(close), dtype=bool)
    cross[1:] = (f[1:] > s[1:]) & (f[:-1] <= s[:-1])
    k = np.flatnonzero(cross)
    return pd.DataFrame({"position": "long", "price_take_profit": close[k] * (1 + width / 100),
                         "price_stop_loss": close[k] * (1 - width / 100), "minute_estimated_time": MAX_HOLD},
                        index=candles.timestamp[k] + 300_000)


data = {k: v.to_numpy() for k, v in pq.read_table(os.environ["BTK_BENCH_DATA"]).to_pandas().items()}
set_config(CC_PERCENT_SLIPPAGE=0, CC_GET_CANDLES_RETRY_DELAY_MS=0)
add_memory_exchange("bench", {"BENCH": data})
add_strategy(strategy_name="sma_grid", interval="5m", params=GRID,
             make=lambda p: {"get_signals": partial(sma_signals, **p), "lookback": p["slow"] + 1})
start, count = int(data["timestamp"][0]), len(data["close"])
add_frame(frame_name="bench", interval="5m", start_date=start, end_date=start + (count - MAX_HOLD - 1) * 60_000)
