"""The files exchange: parquet/CSV per symbol and interval, aggregation, clear errors."""
import numpy as np
import pandas as pd
import pytest

import btk_core as bt
from btk_core.candle_store import CandleStore
from btk_core.config import snapshot
from btk_core.exchanges import add_files_exchange, synthetic_candles, write_candles
from btk_core.exchanges.files import candle_path
from tests.helpers import T0, M


def frame(n=300):
    return pd.DataFrame(dict(zip(["timestamp", "open", "high", "low", "close", "volume"],
                                 synthetic_candles("BTC/USDT", T0 // M, n))))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_round_trip_through_the_engine(tmp_path, fake_clock, fmt):
    fake_clock.now = T0 + 10_000 * M
    df = frame()
    path = write_candles(tmp_path, "BTC/USDT", "1m", df, fmt=fmt)
    assert path == candle_path(tmp_path, "BTC/USDT", "1m", f".{fmt}")
    assert "/" not in path.parent.name  # safe_name keeps the symbol in one folder
    store = CandleStore(add_files_exchange("files", tmp_path), snapshot())
    got = store.last_closed("BTC/USDT", "1m", 100, T0 + 300 * M)
    assert np.array_equal(got.close, df["close"].to_numpy()[200:300])


def test_missing_interval_is_aggregated_from_1m(tmp_path, fake_clock):
    fake_clock.now = T0 + 10_000 * M
    write_candles(tmp_path, "BTC/USDT", "1m", frame())
    store = CandleStore(add_files_exchange("files", tmp_path), snapshot())
    five = store.last_closed("BTC/USDT", "5m", 3, T0 + 15 * M)
    one = store.last_closed("BTC/USDT", "1m", 15, T0 + 15 * M)
    assert five.timestamp.tolist() == [T0, T0 + 5 * M, T0 + 10 * M]
    assert five.close[-1] == one.close[-1] and five.high[0] == one.high[:5].max()


def test_missing_symbol_gives_a_clear_error(tmp_path, fake_clock):
    fake_clock.now = T0 + 10_000 * M
    bt.set_config(CC_GET_CANDLES_RETRY_DELAY_MS=0)
    store = CandleStore(add_files_exchange("files", tmp_path), snapshot())
    with pytest.raises(bt.CandleFetchError, match="no candle file for symbol='ETH' interval='1m'"):
        store.window("ETH", "1m", T0, T0 + M)


def test_missing_column_gives_a_clear_error(tmp_path, fake_clock):
    fake_clock.now = T0 + 10_000 * M
    path = candle_path(tmp_path, "BTC", "1m", ".csv")
    path.parent.mkdir(parents=True)
    path.write_text("timestamp,open,high,low,close\n0,1,1,1,1\n")
    bt.set_config(CC_GET_CANDLES_RETRY_DELAY_MS=0)
    store = CandleStore(add_files_exchange("files", tmp_path), snapshot())
    with pytest.raises(bt.CandleFetchError, match="lacks column 'volume'"):
        store.window("BTC", "1m", T0, T0 + M)
    with pytest.raises(ValueError, match="lack column 'open'"):
        write_candles(tmp_path, "X", "1m", {"timestamp": [0]})


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        add_files_exchange("files", tmp_path / "nope")


# ---- the files people have ---------------------------------------------------------------
def export(df: pd.DataFrame, time_header: str, times) -> pd.DataFrame:
    out = df.rename(columns={c: c.capitalize() for c in df.columns}).drop(columns=["Timestamp"])
    out.insert(0, time_header, times)
    return out


@pytest.mark.parametrize("time_header, convert", [
    ("Date", lambda ts: pd.to_datetime(ts, unit="ms", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")),  # ISO text
    ("Date", lambda ts: pd.to_datetime(ts, unit="ms").strftime("%Y-%m-%d %H:%M:%S")),             # naive: UTC
    ("datetime", lambda ts: pd.to_datetime(ts, unit="ms", utc=True).tz_convert("Europe/Paris")
     .strftime("%Y-%m-%dT%H:%M:%S%z")),                                                          # an offset
    ("Time", lambda ts: ts // 1000),                                                              # seconds
    ("open_time", lambda ts: ts),                                                                 # milliseconds
    ("TIMESTAMP", lambda ts: ts * 1000),                                                          # microseconds
    ("timestamp", lambda ts: ts * 1_000_000),                                                     # nanoseconds
    ("Time", lambda ts: (ts // 1000).astype(float)),                                              # float seconds
])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exports_read_without_editing(tmp_path, fake_clock, time_header, convert, fmt):
    """``Date,Open,High,Low,Close,Volume`` with ISO dates, epoch numbers of any unit, any case of the names."""
    fake_clock.now = T0 + 10_000 * M
    df = frame()
    exported = export(df, time_header, convert(df["timestamp"].to_numpy()))
    path = candle_path(tmp_path, "MYCOIN", "1m", f".{fmt}")
    path.parent.mkdir(parents=True)
    exported.to_csv(path, index=False) if fmt == "csv" else exported.to_parquet(path, index=False)
    store = CandleStore(add_files_exchange("files", tmp_path), snapshot())
    got = store.last_closed("MYCOIN", "1m", 300, T0 + 300 * M)
    assert got.timestamp.tolist() == df["timestamp"].tolist()
    assert np.array_equal(got.close, df["close"].to_numpy())


def test_the_time_unit_rule():
    from btk_core.exchanges.files import time_unit
    assert [time_unit(x) for x in (1_717_200_000, 1_717_200_000_000, 1_717_200_000_000_000,
                                   1_717_200_000_000_000_000, 0)] == ["s", "ms", "us", "ns", "s"]


@pytest.mark.parametrize("content, says", [
    ("Price,Qty\n1,2\n", "lacks column 'timestamp' (nor date, datetime, time, open_time, in any case; found Price, Qty)"),
    ("Date,Open,High,Low,Close,Volume\nyesterday,1,1,1,1,1\n", "cannot read the times of column 'Date'"),
    ("Date,Open,High,Low,Close,Volume\n2024-01-01T00:00:00Z,1,1,one,1,1\n", "column 'Low' is not numeric"),
])
def test_an_unusable_file_fails_at_once_in_one_line(tmp_path, fake_clock, content, says):
    fake_clock.now = T0 + 10_000 * M
    bt.set_config(CC_GET_CANDLES_RETRY_COUNT=3, CC_GET_CANDLES_RETRY_DELAY_MS=5000)
    path = candle_path(tmp_path, "MYCOIN", "1m", ".csv")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    store = CandleStore(add_files_exchange("files", tmp_path), snapshot())
    with pytest.raises(bt.CandleFetchError) as err:
        store.window("MYCOIN", "1m", T0, T0 + M)
    assert says in str(err.value) and "\n" not in str(err.value) and fake_clock.sleeps == []


def test_a_file_rewritten_in_place_is_read_again_and_changes_the_fingerprint(tmp_path, fake_clock):
    fake_clock.now = T0 + 10_000 * M
    df = frame()
    write_candles(tmp_path, "BTC", "1m", df, fmt="csv")
    exchange = add_files_exchange("files", tmp_path)
    before = exchange.fingerprint("BTC", "1m", T0, T0 + 300 * M)
    first = CandleStore(exchange, snapshot()).last_closed("BTC", "1m", 10, T0 + 300 * M).close.copy()
    path = candle_path(tmp_path, "BTC", "1m", ".csv")
    changed = df.assign(close=df["close"] * 1.01, high=df["high"] * 1.01)
    changed.to_csv(path, index=False)  # in place: the folder's time does not move
    again = CandleStore(exchange, snapshot()).last_closed("BTC", "1m", 10, T0 + 300 * M).close
    assert np.allclose(again, first * 1.01)
    assert exchange.fingerprint("BTC", "1m", T0, T0 + 300 * M) != before


def test_memory_and_synthetic_exchanges_have_fingerprints(tmp_path):
    from btk_core.exchanges import add_memory_exchange, add_synthetic_exchange
    df = frame()
    a = add_memory_exchange("a", {"BTC": df}).fingerprint("BTC", "1m", T0, T0 + M)
    b = add_memory_exchange("b", {"BTC": df.assign(close=df["close"] + 1)}).fingerprint("BTC", "1m", T0, T0 + M)
    assert a != b and a == add_memory_exchange("c", {"BTC": df.copy()}).fingerprint("BTC", "1m", T0, T0 + M)
    assert (add_synthetic_exchange("s1", seed=1).fingerprint("X", "1m", 0, 1)
            != add_synthetic_exchange("s2", seed=2).fingerprint("X", "1m", 0, 1))
    assert bt.add_exchange(exchange_name="plain", get_candles=lambda *a: []).fingerprint is None
