"""The in-memory source: views of the caller's columns, aggregation, the same backtest as from files."""
import numpy as np
import pandas as pd
import pytest

import btk_core as bt
from btk_core.exchanges import add_files_exchange, add_memory_exchange, synthetic_candles, write_candles

DAY_MINUTE = 1717200000000 // 60_000


def day_of_candles(days: int = 2) -> dict[str, np.ndarray]:
    return dict(zip(("timestamp", "open", "high", "low", "close", "volume"),
                    synthetic_candles("BTCUSDT", DAY_MINUTE, days * 1440)))


def test_columns_are_served_in_place_and_read_only():
    data = day_of_candles()
    add_memory_exchange("mem", {"BTCUSDT": data})
    store_answer = bt.list_exchanges()[0].get_candles("BTCUSDT", "1m", int(data["timestamp"][10]), 5)
    assert np.shares_memory(store_answer.close, data["close"]) and not store_answer.close.flags.writeable
    assert store_answer.timestamp.tolist() == data["timestamp"][10:15].tolist()


def test_unsorted_frames_are_sorted_and_intervals_aggregated():
    data = day_of_candles(1)
    frame = pd.DataFrame(data).iloc[::-1]
    add_memory_exchange("mem", {"BTCUSDT": frame})
    hourly = bt.list_exchanges()[0].get_candles("BTCUSDT", "1h", int(data["timestamp"][0]), 24)
    assert len(hourly) == 24 and hourly.high[0] == data["high"][:60].max() and hourly.close[0] == data["close"][59]
    with pytest.raises(LookupError, match=r"no candles for symbol 'ETHUSDT'; this exchange has \['BTCUSDT'\]"):
        bt.list_exchanges()[0].get_candles("ETHUSDT", "1m", 0, 1)


def test_a_backtest_from_memory_equals_one_from_files(tmp_path):
    data = day_of_candles()
    write_candles(tmp_path, "BTCUSDT", "1m", data)
    add_memory_exchange("mem", {"BTCUSDT": data})
    add_files_exchange("files", tmp_path)
    start = int(data["timestamp"][0]) + 60 * 60_000
    bt.add_frame(frame_name="f", interval="5m", start_date=start, end_date=start + 30 * 60 * 60_000)

    def signal(symbol, when):
        closes = bt.get_candles(symbol, "15m", 4).close
        if len(closes) == 4 and closes[-1] > closes[0]:
            return {"position": "long", "price_take_profit": closes[-1] * 1.006, "price_stop_loss": closes[-1] * 0.994,
                    "minute_estimated_time": 120}
        return None

    bt.add_strategy(strategy_name="s", interval="15m", get_signal=signal)
    runs = [[(r.signal.pending_at, r.close_timestamp, r.pnl.pnl_percentage)
             for r in bt.Backtest.run("BTCUSDT", strategy_name="s", exchange_name=name, frame_name="f")]
            for name in ("mem", "files")]
    assert len(runs[0]) > 3 and runs[0] == runs[1]


def test_bad_arguments_name_the_problem():
    with pytest.raises(TypeError, match="candles must be a non-empty mapping of symbol -> 1m candles, got list"):
        add_memory_exchange("mem", [1, 2])
    with pytest.raises(ValueError, match="candles lack column 'volume'"):
        add_memory_exchange("mem", {"BTCUSDT": {"timestamp": [0], "open": [1], "high": [1], "low": [1], "close": [1]}})
