"""SPEC §2.5–§2.9: block reads, paging, retries, bad data, visibility and the average price."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import btk_core as bt
from btk_core.candle_store import CandleStore
from btk_core.config import snapshot
from tests.helpers import T0, ListSource, M, flat_candles, register


def make_store(source, fake_clock, **cfg):
    bt.set_config(**{"CC_GET_CANDLES_RETRY_DELAY_MS": 0, **cfg})
    return CandleStore(register(source), snapshot())


# ---- block reads ---------------------------------------------------------------------
def test_blocks_are_aligned_and_loaded_once(fake_clock):
    fake_clock.now = T0 + 10 * 24 * 60 * M
    src = ListSource({"1m": flat_candles(T0 - 2000 * M, 4000)})
    store = make_store(src, fake_clock, CC_CANDLE_BLOCK_SIZE=100)
    store.last_closed("BTC", "1m", 150, T0 + 30 * M)
    store.last_closed("BTC", "1m", 150, T0 + 31 * M)
    starts = sorted(c[2] for c in src.calls)
    assert all(s % (100 * M) == 0 for s in starts)
    assert all(c[3] == 100 for c in src.calls)
    assert len(starts) == len(set(starts))  # each past block loaded once


def test_block_containing_now_asks_only_closed_candles_and_reloads(fake_clock):
    block = 1000 * M
    start = (T0 // block) * block
    fake_clock.now = start + 7 * M + 30_000  # 7 candles closed, the 8th is open
    src = ListSource({"1m": flat_candles(start, 20)})
    store = make_store(src, fake_clock)
    c = store.last_closed("BTC", "1m", 5, fake_clock.now)
    assert src.calls == [("BTC", "1m", start, 7)]
    assert c.timestamp[-1] == start + 6 * M
    store.last_closed("BTC", "1m", 5, fake_clock.now)
    assert len(src.calls) == 1  # same now: no reload
    fake_clock.now += M
    c = store.last_closed("BTC", "1m", 5, fake_clock.now)
    assert src.calls[-1] == ("BTC", "1m", start, 8) and c.timestamp[-1] == start + 7 * M


def test_windows_with_unaligned_bounds_agree_on_complete_and_gappy_blocks(fake_clock):
    fake_clock.now = T0 + 10 * 24 * 60 * M
    start = (T0 // (10 * M)) * 10 * M
    full = ListSource({"1m": flat_candles(start, 30)})
    gappy_rows = flat_candles(start, 30)
    del gappy_rows[25]
    gappy = ListSource({"1m": gappy_rows})
    for src in (full, gappy):
        from btk_core import registry
        registry.clear_registry()
        store = make_store(src, fake_clock, CC_CANDLE_BLOCK_SIZE=10)
        ts = store.window("BTC", "1m", start + 3 * M + 1, start + 12 * M + 1)[0].tolist()
        assert ts == [start + k * M for k in range(4, 13)]


def test_no_call_when_nothing_can_be_closed(fake_clock):
    block = 1000 * M
    fake_clock.now = (T0 // block) * block + 30_000
    src = ListSource({"1m": []})
    store = make_store(src, fake_clock)
    store.window("BTC", "1m", fake_clock.now - 30_000, fake_clock.now)
    assert src.calls == []


def test_paging_asks_again_for_the_remainder(fake_clock):
    fake_clock.now = T0 + 10 * 24 * 60 * M
    start = (T0 // (1000 * M)) * 1000 * M
    rows = flat_candles(start, 1000)
    del rows[400:410]  # a gap
    src = ListSource({"1m": rows}, page=300)
    store = make_store(src, fake_clock)
    blk = store.block("BTC", "1m", start // (1000 * M))
    assert len(blk.cols[0]) == 990 and not blk.complete
    assert [c[2:] for c in src.calls] == [(start, 1000), (start + 300 * M, 700),
                                         (start + 610 * M, 390), (start + 910 * M, 90)]


def test_candles_beyond_the_block_end_are_dropped(fake_clock):
    fake_clock.now = T0 + 10 * 24 * 60 * M
    start = (T0 // (10 * M)) * 10 * M
    rows = flat_candles(start, 8) + flat_candles(start + 12 * M, 3)  # gap, then next block

    def gap_skipping(symbol, interval, since, limit):
        return [r for r in rows if r[0] >= since][:limit]

    store = make_store(gap_skipping, fake_clock, CC_CANDLE_BLOCK_SIZE=10)
    blk = store.block("BTC", "1m", start // (10 * M))
    assert blk.cols[0].tolist() == [start + i * M for i in range(8)]


def test_accepted_shapes(fake_clock):
    fake_clock.now = T0 + 100 * M
    rows = flat_candles(T0, 5)
    shapes = {
        "lists": lambda: [list(r) for r in rows],
        "mappings": lambda: [dict(zip(("timestamp", "open", "high", "low", "close", "volume"), r)) for r in rows],
        "candles": lambda: [bt.Candle(int(r[0]), *r[1:]) for r in rows],
        "frame": lambda: pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"]),
        "float_ts": lambda: [[float(r[0])] + r[1:] for r in rows],
    }
    for name, make in shapes.items():
        bt.set_config(CC_CANDLE_BLOCK_SIZE=5)
        store = CandleStore(bt.add_exchange(exchange_name=name, get_candles=lambda *a, m=make: m()), snapshot())
        c = store.last_closed("BTC", "1m", 5, T0 + 5 * M)
        assert c.timestamp.tolist() == [T0 + i * M for i in range(5)], name
        assert c.close.dtype == np.float64 and c.timestamp.dtype == np.int64


# ---- §2.7 A: contract failures -------------------------------------------------------
@pytest.mark.parametrize("answer, rule", [
    (lambda s, l: (_ for _ in ()).throw(ConnectionError("down")), "raised ConnectionError: down"),
    (lambda s, l: flat_candles(s, l + 1), "more than limit"),
    (lambda s, l: [[s, 1, 2, 0.5]], "lacks field 'close'"),
    (lambda s, l: [{"timestamp": s, "open": 1, "high": 1, "low": 1, "close": 1}], "lacks field 'volume'"),
    (lambda s, l: [[s, "1", 2, 0.5, 1, 1]], "non-numeric open"),
    (lambda s, l: [[s - M, 1, 2, 0.5, 1, 1]], "< since"),
    (lambda s, l: [[s + 1, 1, 2, 0.5, 1, 1]], "not aligned"),
    (lambda s, l: flat_candles(s, 2)[::-1], "not strictly ascending"),
    (lambda s, l: flat_candles(s, 1) * 2, "not strictly ascending"),
    (lambda s, l: [[s + 0.5, 1, 2, 0.5, 1, 1]], "non-integral timestamp"),
    (lambda s, l: "candles", "result must be a sequence"),
])
def test_contract_failures_raise_candle_fetch_error(fake_clock, answer, rule):
    fake_clock.now = T0 + 100 * M
    store = make_store(lambda sym, iv, since, limit: answer(since, limit), fake_clock, CC_CANDLE_BLOCK_SIZE=10)
    with pytest.raises(bt.CandleFetchError) as info:
        store.last_closed("BTC", "1m", 3, T0 + 10 * M)
    msg = str(info.value)
    assert rule in msg
    for part in ("exchange=ex", "symbol=BTC", "interval=1m", f"since={T0}", "limit=10"):
        assert part in msg


def test_retries_sleep_between_attempts_not_after_the_last(fake_clock):
    fake_clock.now = T0 + 100 * M
    calls = []

    def failing(*a):
        calls.append(a)
        raise RuntimeError("nope")

    bt.set_config(CC_GET_CANDLES_RETRY_COUNT=3, CC_GET_CANDLES_RETRY_DELAY_MS=5000, CC_CANDLE_BLOCK_SIZE=10)
    store = CandleStore(register(failing), snapshot())
    with pytest.raises(bt.CandleFetchError):
        store.window("BTC", "1m", T0, T0 + M)
    assert len(calls) == 3 and fake_clock.sleeps == [5.0, 5.0]


def test_zero_retry_count_means_one_attempt(fake_clock):
    fake_clock.now = T0 + 100 * M
    calls = []
    store = make_store(lambda *a: calls.append(a) or 1 / 0, fake_clock, CC_GET_CANDLES_RETRY_COUNT=0)
    with pytest.raises(bt.CandleFetchError):
        store.window("BTC", "1m", T0, T0 + M)
    assert len(calls) == 1


@pytest.mark.parametrize("answer, rule", [
    ([[T0 + 30_000, 100, 100.2, 99.8, 100, 10]], "is not aligned"),
    ([[T0, 100, 100.2, 99.8, "100", 10]], "non-numeric close"),
    ([[T0 + M, 100, 100.2, 99.8, 100, 10], [T0, 100, 100.2, 99.8, 100, 10]], "not strictly ascending"),
    ([{"timestamp": T0, "open": 1}], "lacks field 'high'"),
])
def test_a_contract_violation_is_not_retried(fake_clock, answer, rule):
    """SPEC §20.3: retrying cannot heal it, so the read fails at once (no sleep, one call)."""
    fake_clock.now = T0 + 100 * M
    calls = []
    bt.set_config(CC_GET_CANDLES_RETRY_COUNT=3, CC_GET_CANDLES_RETRY_DELAY_MS=5000, CC_CANDLE_BLOCK_SIZE=10)
    store = CandleStore(register(lambda *a: calls.append(a) or answer), snapshot())
    with pytest.raises(bt.CandleFetchError, match=rule):
        store.window("BTC", "1m", T0, T0 + M)
    assert len(calls) == 1 and fake_clock.sleeps == []


def test_an_unusable_source_is_not_retried(fake_clock):
    fake_clock.now = T0 + 100 * M
    calls = []

    def unusable(*a):
        calls.append(a)
        raise bt.CandleSourceUnusable("data/BTC/1m.csv has no time column (columns: price, qty)")

    bt.set_config(CC_GET_CANDLES_RETRY_COUNT=3, CC_GET_CANDLES_RETRY_DELAY_MS=5000, CC_CANDLE_BLOCK_SIZE=10)
    store = CandleStore(register(unusable), snapshot())
    with pytest.raises(bt.CandleFetchError, match="cannot be used: data/BTC/1m.csv has no time column"):
        store.window("BTC", "1m", T0, T0 + M)
    assert len(calls) == 1 and fake_clock.sleeps == []


def test_a_later_attempt_can_succeed(fake_clock):
    fake_clock.now = T0 + 100 * M
    answers = iter([RuntimeError("flaky"), flat_candles(T0, 10)])

    def flaky(*a):
        x = next(answers)
        if isinstance(x, Exception):
            raise x
        return x

    store = make_store(flaky, fake_clock, CC_CANDLE_BLOCK_SIZE=10)
    assert len(store.last_closed("BTC", "1m", 10, T0 + 10 * M)) == 10


def test_failed_block_is_not_cached(fake_clock):
    fake_clock.now = T0 + 100 * M
    src = ListSource({"1m": flat_candles(T0, 10)})
    state = {"fail": True}

    def sometimes(*a):
        if state["fail"]:
            raise RuntimeError("x")
        return src(*a)

    store = make_store(sometimes, fake_clock, CC_CANDLE_BLOCK_SIZE=10, CC_GET_CANDLES_RETRY_COUNT=1)
    with pytest.raises(bt.CandleFetchError):
        store.window("BTC", "1m", T0, T0 + M)
    state["fail"] = False
    assert len(store.window("BTC", "1m", T0, T0 + M)[0]) == 1


# ---- §2.7 B: defective candles -------------------------------------------------------
@pytest.mark.parametrize("bad, reason", [
    ([float("nan"), 100.2, 99.8, 100, 10], "non-finite"),
    ([100, 100.2, 99.8, 100, float("inf")], "non-finite"),
    ([100, 100.2, -1, 100, 10], "price <= 0"),
    ([100, 100.2, 99.8, 100, -1], "volume < 0"),
    ([100, 99.9, 99.8, 100, 10], "high < max(open, close)"),
    ([100, 100.2, 100.1, 100, 10], "low > min(open, close)"),
    ([0.05, 100.2, 0.05, 100, 10], "price anomaly (<"),
    ([100, 100_000_000, 99.8, 100, 10], "price anomaly (>"),  # SPEC §20.3: both directions
])
def test_defective_candle_is_excluded_and_reported_once(fake_clock, errors, bad, reason):
    fake_clock.now = T0 + 100 * M
    rows = flat_candles(T0, 10)
    rows[4] = [T0 + 4 * M] + bad
    src = ListSource({"1m": rows})
    store = make_store(src, fake_clock, CC_CANDLE_BLOCK_SIZE=10, CC_GET_CANDLES_RETRY_COUNT=2)
    c = store.last_closed("BTC", "1m", 10, T0 + 10 * M)
    assert T0 + 4 * M not in c.timestamp.tolist() and len(c) == 9
    assert len(src.calls) == 2  # a defective answer fails the attempt and is retried
    defects = [e for e in errors if isinstance(e, bt.CandleDefectError)]
    assert len(defects) == 1 and defects[0].defects[0][0] == T0 + 4 * M
    assert reason in defects[0].defects[0][1]
    store.last_closed("BTC", "1m", 10, T0 + 10 * M)
    assert len([e for e in errors if isinstance(e, bt.CandleDefectError)]) == 1


def test_reference_price_is_the_mean_below_the_median_threshold(fake_clock, errors):
    fake_clock.now = T0 + 100 * M
    # 3 candles (< 5): ref = fsum mean of the 12 prices; the 0.09 candle is below ref/1000
    rows = [[T0, 100, 100, 100, 100, 1], [T0 + M, 200, 200, 200, 200, 1], [T0 + 2 * M, 0.09, 0.09, 0.09, 0.09, 1]]
    store = make_store(ListSource({"1m": rows}), fake_clock, CC_CANDLE_BLOCK_SIZE=3, CC_GET_CANDLES_RETRY_COUNT=1)
    ref = math.fsum([100] * 4 + [200] * 4 + [0.09] * 4) / 12
    c = store.last_closed("BTC", "1m", 3, T0 + 3 * M)
    assert c.timestamp.tolist() == [T0, T0 + M]
    assert f"< {ref / 1000!r}" in errors[0].defects[0][1]


def test_block_without_any_valid_price_is_fully_excluded(fake_clock, errors):
    fake_clock.now = T0 + 100 * M
    rows = [[T0 + i * M, -1, -1, -1, -1, 1] for i in range(3)]
    store = make_store(ListSource({"1m": rows}), fake_clock, CC_CANDLE_BLOCK_SIZE=3, CC_GET_CANDLES_RETRY_COUNT=1)
    assert len(store.last_closed("BTC", "1m", 3, T0 + 3 * M)) == 0
    assert len(errors[0].defects) == 3


def test_on_candle_data_callback(fake_clock):
    fake_clock.now = T0 + 100 * M
    seen = []
    bt.set_config(CC_CANDLE_BLOCK_SIZE=10)
    ex = bt.add_exchange(exchange_name="ex", get_candles=ListSource({"1m": flat_candles(T0, 10)}),
                         callbacks={"on_candle_data": lambda *a: seen.append(a)})
    CandleStore(ex, snapshot()).window("BTC", "1m", T0, T0 + M)
    assert len(seen) == 1
    symbol, interval, since, limit, candles = seen[0]
    assert (symbol, interval, since, limit, len(candles)) == ("BTC", "1m", T0, 10, 10)


# ---- §2.8 visibility -------------------------------------------------------------------
def test_get_candles_hourly_example(fake_clock):
    when = T0 + 24 * 60 * M + 10 * 60 * M + 30 * M  # 2024-01-02T10:30Z
    fake_clock.now = when + 1000 * M
    src = ListSource({"1h": flat_candles(T0 - 10 * 60 * M, 60, "1h")})
    store = make_store(src, fake_clock)
    c = store.last_closed("BTC", "1h", 24, when)
    assert c.timestamp[0] == T0 + 10 * 60 * M and c.timestamp[-1] == T0 + 24 * 60 * M + 9 * 60 * M
    assert len(c) == 24
    one = store.last_closed("BTC", "1h", 1, when)
    assert one.timestamp.tolist() == [T0 + 24 * 60 * M + 9 * 60 * M]


def test_candles_are_read_only(fake_clock):
    fake_clock.now = T0 + 100 * M
    store = make_store(ListSource({"1m": flat_candles(T0, 50)}), fake_clock)
    c = store.last_closed("BTC", "1m", 10, T0 + 20 * M)
    with pytest.raises(ValueError):
        c.close[0] = 1.0
    assert c[0] == bt.Candle(T0 + 10 * M, 100.0, 100.2, 99.8, 100.0, 10.0)
    assert list(c)[-1].timestamp == T0 + 19 * M and len(c[2:4]) == 2
    assert list(c.to_frame().columns) == ["timestamp", "open", "high", "low", "close", "volume"]


ROWS = flat_candles(T0 - 3000 * M, 9000)
GAPPY = [r for i, r in enumerate(ROWS) if i % 7 not in (3, 4)]


@settings(max_examples=150, deadline=None)
@given(when=st.integers(T0 - 2000 * M, T0 + 5000 * M), limit=st.integers(1, 40),
       interval=st.sampled_from(["1m", "3m", "5m", "15m", "1h"]), block=st.sampled_from([7, 50, 1000]),
       gaps=st.booleans())
def test_get_candles_never_returns_an_open_candle(when, limit, interval, block, gaps):
    from btk_core import clock
    from btk_core.exchanges.resample import aggregate
    from btk_core.intervals import INTERVAL_MS
    from tests.helpers import columns

    step = INTERVAL_MS[interval]
    base = GAPPY if gaps else ROWS
    agg = aggregate(columns(base), step)
    rows = [list(r) for r in zip(*(a.tolist() for a in agg))]
    now = T0 + 5000 * M
    clock.set_clock(lambda: now)
    try:
        bt.set_config(CC_CANDLE_BLOCK_SIZE=block, CC_GET_CANDLES_RETRY_DELAY_MS=0)
        from btk_core import registry
        registry.clear_registry()
        store = CandleStore(register(ListSource({interval: rows})), snapshot())
        got = store.last_closed("BTC", interval, limit, when).timestamp.tolist()
    finally:
        clock.set_clock()
    a = when - when % step
    expected = [r[0] for r in rows if a - limit * step <= r[0] and r[0] + step <= when]
    assert got == expected
    assert all(t + step <= when for t in got) and len(got) <= limit


# ---- §2.9 average price ----------------------------------------------------------------
def vwap_of(rows, fake_clock, t, n=5, **cfg):
    fake_clock.now = T0 + 10_000 * M
    store = make_store(ListSource({"1m": rows}), fake_clock, CC_AVG_PRICE_CANDLES_COUNT=n, **cfg)
    return store.vwap("BTC", t)


@pytest.mark.parametrize("block", [1000, 3, 4])
def test_vwap_examples(fake_clock, block):
    hlcv = [(42380.2, 42100, 42250.8, 100), (42480.2, 42200, 42350.8, 110), (42580.2, 42300, 42450.8, 120),
            (42680.2, 42400, 42550.8, 130), (42780.2, 42500, 42650.8, 140)]
    rows = [[T0 + i * M, c, h, l, c, v] for i, (h, l, c, v) in enumerate(hlcv)]
    assert vwap_of(rows, fake_clock, T0 + 5 * M, CC_CANDLE_BLOCK_SIZE=block) == 42460.33333333333


def test_vwap_second_example_and_zero_volume(fake_clock):
    from btk_core import registry
    hlcv = [(12, 8, 11, 1), (22, 18, 21, 3), (33, 27, 30, 0), (44, 36, 42, 2), (55, 45, 50, 4)]
    rows = [[T0 + i * M, c, h, l, c, v] for i, (h, l, c, v) in enumerate(hlcv)]
    assert vwap_of(rows, fake_clock, T0 + 5 * M) == 35.266666666666666
    registry.clear_registry()
    rows = [[T0 + i * M, 100 + i, 100 + i, 100 + i, 100 + i, 0] for i in range(5)]
    assert vwap_of(rows, fake_clock, T0 + 5 * M + 59_999) == 102.0  # unaligned T uses align(T)


def test_vwap_with_gaps_uses_present_candles_and_warns(fake_clock, caplog):
    rows = [[T0 + i * M, 10.0 * (i + 1), 10.0 * (i + 1), 10.0 * (i + 1), 10.0 * (i + 1), 1] for i in (0, 3)]
    assert vwap_of(rows, fake_clock, T0 + 5 * M) == (10.0 * 1 + 40.0 * 1) / 2
    assert "uses 2 of 5 candles" in caplog.text


def test_vwap_without_candles_raises(fake_clock):
    with pytest.raises(bt.AveragePriceError, match="^no candles data for symbol=BTC$"):
        vwap_of(flat_candles(T0, 3), fake_clock, T0 + 100 * M)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(T0, T0 + 60 * M), block=st.sampled_from([4, 10, 1000]))
def test_vwap_table_equals_direct_left_to_right_sum(seed, t, block):
    """The precomputed table must be bit-identical to the plain loop of §2.9."""
    from btk_core import clock, registry
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(100):
        o, c = 100 + rng.normal(), 100 + rng.normal()
        if rng.random() > (0.2 if seed % 2 else 0.0):  # even seeds: every minute present (no scatter)
            rows.append([T0 - 20 * M + i * M, o, max(o, c) + rng.random(), min(o, c) - rng.random(), c,
                         rng.random() * 5 if seed % 3 else float(rng.random() > 0.5)])  # some zero volume
    clock.set_clock(lambda: T0 + 10_000 * M)
    try:
        registry.clear_registry()
        bt.set_config(CC_CANDLE_BLOCK_SIZE=block)
        store = CandleStore(register(ListSource({"1m": rows})), snapshot())
        a = t - t % M
        window = [r for r in rows if a - 5 * M <= r[0] < a]
        if not window:
            with pytest.raises(bt.AveragePriceError):
                store.vwap("BTC", t)
            return
        num = den = closes = 0.0
        for r in window:
            num += ((r[2] + r[3]) + r[4]) / 3 * r[5]
            den += r[5]
            closes += r[4]
        assert store.vwap("BTC", t) == (num / den if den else closes / len(window))  # no volume: mean close
    finally:
        clock.set_clock()
