"""The synthetic exchange: deterministic, stable across requests, valid OHLC, intervals agree."""
import numpy as np
import pytest

import btk_core as bt
from btk_core.candle_store import CandleStore
from btk_core.config import snapshot
from btk_core.exchanges import add_synthetic_exchange, synthetic_candles
from tests.helpers import T0, M


def test_same_minute_same_candle_whatever_the_range():
    whole = synthetic_candles("BTCUSDT", T0 // M - 700, 3000)
    part = synthetic_candles("BTCUSDT", T0 // M + 1234, 77)
    for a, b in zip(whole, part):
        assert np.array_equal(a[1934:2011], b)


def test_ohlc_invariants_and_continuity():
    ts, o, h, l, c, v = synthetic_candles("ETHUSDT", T0 // M, 5000)
    assert (np.diff(ts) == M).all()
    assert (h >= np.maximum(o, c)).all() and (l <= np.minimum(o, c)).all() and (v > 0).all()
    assert (o[1:] == c[:-1]).all()
    assert abs(o[0] / 3000 - 1) < 0.2  # anchored near the start price on 2024-01-01


def test_symbols_and_seeds_differ():
    a = synthetic_candles("BTCUSDT", T0 // M, 10)[4]
    assert not np.array_equal(a, synthetic_candles("ETHUSDT", T0 // M, 10)[4])
    assert not np.array_equal(a, synthetic_candles("BTCUSDT", T0 // M, 10, seed=7)[4])


def test_higher_intervals_are_aggregated_from_its_own_1m(fake_clock):
    fake_clock.now = T0 + 10 * 24 * 60 * M
    add_synthetic_exchange()
    src = bt.list_exchanges()[0].get_candles
    one = src("BTCUSDT", "1m", T0, 60)
    hour = src("BTCUSDT", "1h", T0, 1)
    h = hour[0]
    assert (h.timestamp, h.open, h.high, h.low, h.close) == (T0, one[0].open, one.high.max(), one.low.min(),
                                                             one[-1].close)
    assert h.volume == pytest.approx(float(one.volume.sum()), rel=1e-12)


def test_never_serves_an_open_candle(fake_clock):
    fake_clock.now = T0 + 10 * M + 30_000
    add_synthetic_exchange()
    got = bt.list_exchanges()[0].get_candles("BTCUSDT", "5m", T0, 100)
    assert got.timestamp.tolist() == [T0, T0 + 5 * M]


def test_passes_the_engine_checks_without_defects(fake_clock, errors):
    fake_clock.now = T0 + 30 * 24 * 60 * M
    store = CandleStore(add_synthetic_exchange(), snapshot())
    store.window("SOLUSDT", "1m", T0, T0 + 5000 * M)
    assert errors == []
    assert store.vwap("SOLUSDT", T0 + 4000 * M) > 0


def test_duplicate_registration_is_refused():
    add_synthetic_exchange()
    with pytest.raises(bt.DuplicateNameError):
        add_synthetic_exchange()
