"""A real ccxt.binance object against a local fake Binance (127.0.0.1): paging, cache, 429, bad rows."""
import ccxt
import pytest

import btk_core as bt
from btk_core.candle_store import CandleStore
from btk_core.config import snapshot
from btk_core.exchanges import synthetic_candles
from btk_core.exchanges.ccxt import add_ccxt_exchange
from tests.fakes.binance import FakeBinance

JUNE = 1717200000000  # 2024-06-01
HOUR = 3_600_000


def hourly(symbol, step, start, end):
    ts, o, h, l, c, v = synthetic_candles(symbol, start // 60000, max(1, (end - start) // 60000))
    rows = list(zip(ts.tolist(), o.tolist(), h.tolist(), l.tolist(), c.tolist(), v.tolist()))
    return [r for r in rows if r[0] % step == 0] if step > 60000 else rows


@pytest.fixture
def fake():
    with FakeBinance(lambda sym, step, start, end: [
            (t, o, o * 1.001, o * 0.999, o, 1.0) for t, o in
            ((start + k * step, 100 + (start + k * step) / 1e10) for k in range((end - start) // step))]) as server:
        yield server


def binance(fake):
    ex = ccxt.binance({"enableRateLimit": False})
    fake.point(ex)
    return ex


def store_for(fake, tmp_path, name="bn", **kw):
    bt.set_config(CC_GET_CANDLES_RETRY_DELAY_MS=0, CC_GET_CANDLES_RETRY_COUNT=1)
    ex = add_ccxt_exchange(name, exchange=binance(fake), cache_dir=str(tmp_path / "cache"), page_limit=500,
                           backoff_s=0.01, **kw)
    return CandleStore(ex, snapshot())


def test_pages_a_month_and_caches_it(fake, tmp_path, fake_clock):
    fake_clock.now = JUNE + 62 * 24 * HOUR  # August: June has closed
    candles = store_for(fake, tmp_path).window("BTC/USDT", "1h", JUNE, JUNE + 30 * 24 * HOUR)
    assert len(candles[0]) == 720 and (candles[0][1:] - candles[0][:-1] == HOUR).all()
    # the engine's 1000-hour block spans June and July: each month is downloaded once, whole
    june_pages = [c for c in fake.klines_calls if JUNE <= int(c["startTime"]) < JUNE + 30 * 24 * HOUR]
    assert [int(c["limit"]) for c in june_pages] == [500, 220]  # explicit since/limit paging
    assert list((tmp_path / "cache" / "binance").rglob("2024-06.parquet"))
    calls = len(fake.klines_calls)
    from btk_core import registry
    registry.clear_registry()
    again = store_for(fake, tmp_path).window("BTC/USDT", "1h", JUNE, JUNE + 30 * 24 * HOUR)
    assert len(fake.klines_calls) == calls and (again[4] == candles[4]).all()  # second run: no network


def test_rate_limit_is_retried_with_backoff(fake, tmp_path, fake_clock):
    fake_clock.now = JUNE + 62 * 24 * HOUR
    fake.fail_next = 2
    candles = store_for(fake, tmp_path).window("BTC/USDT", "1h", JUNE, JUNE + 24 * HOUR)
    assert len(candles[0]) == 24
    assert fake_clock.sleeps[:2] == [0.01, 0.02]


def test_malformed_row_is_a_fetch_error_and_not_cached(fake, tmp_path, fake_clock):
    fake_clock.now = JUNE + 62 * 24 * HOUR
    fake.malformed = JUNE + 5 * HOUR
    with pytest.raises(bt.CandleFetchError, match="non-numeric close"):
        store_for(fake, tmp_path).window("BTC/USDT", "1h", JUNE, JUNE + 24 * HOUR)
    assert not list((tmp_path / "cache").rglob("2024-06.parquet"))  # July is clean and may be cached


def test_unknown_symbol_and_interval(fake, tmp_path, fake_clock):
    fake_clock.now = JUNE + 62 * 24 * HOUR
    store = store_for(fake, tmp_path)
    with pytest.raises(bt.CandleFetchError, match="unknown symbol 'XRP/USDT' on binance"):
        store.window("XRP/USDT", "1h", JUNE, JUNE + HOUR)
    store.exchange.get_candles.exchange.timeframes.pop("2h")
    with pytest.raises(bt.CandleFetchError, match="interval '2h' is not offered by binance"):
        store.window("BTC/USDT", "2h", JUNE, JUNE + 2 * HOUR)
    with pytest.raises(ValueError, match="unknown ccxt exchange id 'nope'"):
        add_ccxt_exchange("x", "nope")


def test_current_month_is_read_not_cached(fake, tmp_path, fake_clock):
    fake_clock.now = JUNE + 10 * 24 * HOUR + 30 * 60000  # 2024-06-11T00:30
    candles = store_for(fake, tmp_path).window("BTC/USDT", "1h", JUNE + 9 * 24 * HOUR, JUNE + 10 * 24 * HOUR + HOUR)
    assert len(candles[0]) == 24  # 10:00 is still open at 10:30: never served
    assert not list((tmp_path / "cache").rglob("*.parquet"))


def test_backtest_on_ccxt_data(fake, tmp_path, fake_clock):
    fake_clock.now = JUNE + 62 * 24 * HOUR
    bt.set_config(CC_GET_CANDLES_RETRY_DELAY_MS=0)
    add_ccxt_exchange("bn", exchange=binance(fake), cache_dir=str(tmp_path / "cache"), page_limit=1000)
    bt.add_frame(frame_name="d", interval="1h", start_date=JUNE + HOUR, end_date=JUNE + 5 * HOUR)
    seen = []
    bt.add_strategy(strategy_name="peek", interval="1h",
                    get_signal=lambda s, w: seen.append(len(bt.get_candles(s, "1h", 1))) or None)
    list(bt.Backtest.run("BTC/USDT", strategy_name="peek", exchange_name="bn", frame_name="d"))
    assert seen == [1, 1, 1, 1, 1]
