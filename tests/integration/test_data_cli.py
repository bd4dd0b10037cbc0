"""``btk data download`` (ccxt over HTTP to the fake Binance, paged, resumable) and ``btk data check``, run as
commands; the downloaded folder then serves a backtest through ``add_files_exchange``."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from btk_core.exchanges import synthetic_candles
from tests.fakes.binance import FakeBinance

ROOT = Path(__file__).resolve().parents[2]
JUNE = 1717200000000


def rows(symbol, step, start, end):
    ts, o, h, l, c, v = synthetic_candles(symbol, start // 60000, max(1, (end - start) // 60000))
    return [r for r in zip(ts.tolist(), o.tolist(), h.tolist(), l.tolist(), c.tolist(), v.tolist()) if r[0] % step == 0]


@pytest.fixture
def fake():
    with FakeBinance(rows) as server:
        yield server


def btk(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_download_pages_resumes_and_the_folder_backtests(fake, tmp_path):
    data = tmp_path / "data"
    first = btk("data", "download", "--exchange", "binance", "--symbols", "BTC/USDT,ETH/USDT", "--interval", "1m",
                "--since", "2024-06-01", "--until", "2024-06-02", "--dir", str(data), "--api-url", fake.url)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "BTC/USDT          1440 candles (1440 new), 2024-06-01T00:00 to 2024-06-01T23:59" in first.stdout
    assert {int(c["limit"]) for c in fake.klines_calls} == {1000, 440}  # explicit since/limit pages
    calls = len(fake.klines_calls)
    again = btk("data", "download", "--exchange", "binance", "--symbols", "BTC/USDT", "--interval", "1m",
                "--since", "2024-06-01", "--until", "2024-06-03", "--dir", str(data), "--api-url", fake.url)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2880 candles (1440 new)" in again.stdout
    assert int(fake.klines_calls[calls]["startTime"]) == JUNE + 1440 * 60000  # resumed after the last candle
    from btk_core.exchanges.files import load_columns
    ts, *_ = load_columns(data, "BTC/USDT", "1m")
    assert np.array_equal(ts, JUNE + 60000 * np.arange(2880))

    check = btk("data", "check", "--dir", str(data))
    assert check.returncode == 0, check.stdout
    assert check.stdout.count(" ok") == 2

    import btk_core as bt
    from btk_core.exchanges import add_files_exchange
    add_files_exchange("downloaded", data)
    bt.add_frame(frame_name="two-days", interval="1m", start_date=JUNE + 3_600_000, end_date=JUNE + 2 * 86_400_000)
    bt.add_strategy(strategy_name="hourly", interval="1h", get_signal=lambda symbol, when: {
        "position": "long", "price_take_profit": bt.get_average_price(symbol) * 1.006,
        "price_stop_loss": bt.get_average_price(symbol) * 0.994, "minute_estimated_time": 60})
    trades = list(bt.Backtest.run("BTC/USDT", strategy_name="hourly", exchange_name="downloaded",
                                  frame_name="two-days"))
    assert len(trades) > 10


def test_check_names_what_is_wrong(tmp_path):
    import pandas as pd
    data = tmp_path / "data"
    ts, o, h, l, c, v = synthetic_candles("X", JUNE // 60000, 100)
    frame = pd.DataFrame({"timestamp": ts, "open": o, "high": h, "low": l, "close": c, "volume": v})
    bad = pd.concat([frame.iloc[:50], frame.iloc[48:49], frame.iloc[60:]])  # a duplicate and a 10-minute gap
    bad.loc[bad.index[-1], "high"] = 1e9  # a defect (SPEC §20.3)
    (data / "X").mkdir(parents=True)
    bad.to_csv(data / "X" / "1m.csv", index=False)
    (data / "Y").mkdir()
    (data / "Y" / "1m.csv").write_text("Price,Qty\n1,2\n")
    check = btk("data", "check", "--dir", str(data))
    assert check.returncode == 1
    x = next(line for line in check.stdout.splitlines() if line.startswith("X/1m.csv"))
    assert x.split()[4:9] == ["10", "1", "1", "0", "1"] and x.endswith("FIX")  # row 48 again, after row 49
    assert "lacks column 'timestamp'" in next(line for line in check.stdout.splitlines() if line.startswith("Y/1m.csv"))
