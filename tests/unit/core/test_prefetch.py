"""CandleStore.prefetch loads many blocks at once; nothing may differ from loading them one by one (SPEC §2.5)."""
import math

import numpy as np
import pytest

import btk_core as bt
from btk_core.candle_store import CandleStore
from btk_core.config import snapshot
from btk_core.exchanges import synthetic_candles
from btk_core.registry import lookup

START_MINUTE = 1717200000000 // 60_000  # 2024-06-01
MINUTES = 3000


def messy_candles():
    """Synthetic 1m candles with gaps, a NaN, a high below the close and a price anomaly."""
    ts, o, h, l, c, v = (np.array(a) for a in synthetic_candles("BTCUSDT", START_MINUTE, MINUTES))
    keep = np.ones(MINUTES, dtype=bool)
    keep[[100, 101, 102, 640, 1999]] = False           # gaps, one at a block edge
    h[777] = c[777] * 0.99                              # high < close
    o[1234] = np.nan                                    # non-finite
    l[2222] = l[2222] / 1000                            # price anomaly
    return [col[keep] for col in (ts, o, h, l, c, v)]


def register(name, cols, calls, page=None):
    """A source answering lists (so the store copies), at most ``page`` candles per call like an exchange API."""
    def get_candles(symbol, interval, since, limit):
        calls.append((since, limit))
        i0 = int(np.searchsorted(cols[0], since))
        n = limit if page is None else min(limit, page)
        return [list(row) for row in zip(*(col[i0:i0 + n].tolist() for col in cols))]
    bt.add_exchange(exchange_name=name, get_candles=get_candles)


def frame_and_strategy(cols):
    """Frame ``f`` over 45 hours of ``cols`` and strategy ``s``: a long every 15 minutes, TP/SL +-0.6 %, 30 min."""
    start = int(cols[0][0]) + 30 * 60_000
    bt.add_frame(frame_name="f", interval="1m", start_date=start, end_date=start + 45 * 60 * 60_000)

    def signal(symbol, when):
        price = bt.get_average_price(symbol)
        return {"position": "long", "price_take_profit": price * 1.006, "price_stop_loss": price * 0.994,
                "minute_estimated_time": 30}

    bt.add_strategy(strategy_name="s", interval="15m", get_signal=signal)


def run_s(errors):
    """Backtest ``s`` on exchange ``x``: its results and the errors it emitted."""
    errors.clear()
    results = [(r.signal.pending_at, r.close_reason, r.close_timestamp, r.current_price)
               for r in bt.Backtest.run("BTCUSDT", strategy_name="s", exchange_name="x", frame_name="f")]
    return results, sorted(f"{type(e).__name__}: {e}" for e in errors)


@pytest.mark.parametrize("block_size,group,page", [(50, 64, None), (50, 3, None), (250, 64, 333), (1000, 64, None)])
def test_prefetched_blocks_and_prices_equal_lazy_ones(block_size, group, page, errors, monkeypatch):
    monkeypatch.setattr("btk_core.candle_store.PREFETCH_GROUP", group)  # 3: many group edges
    cols = messy_candles()
    bt.set_config(CC_CANDLE_BLOCK_SIZE=block_size, CC_GET_CANDLES_RETRY_DELAY_MS=0)
    calls_a, calls_b = [], []
    register("a", cols, calls_a, page)
    register("b", cols, calls_b, page)
    eager, lazy = CandleStore(lookup("exchange", "a"), snapshot()), CandleStore(lookup("exchange", "b"), snapshot())
    t_from, t_to = int(cols[0][0]), int(cols[0][-1])
    eager.prefetch("BTCUSDT", t_from, t_to)
    span = block_size * 60_000
    expected_pages = 2 if page is None else -(-MINUTES // page) + 1  # a second page after the gaps
    assert len(calls_a) <= expected_pages  # one paged fetch, whatever the block count
    for k in range(t_from // span, t_to // span):
        x, y = eager.block("BTCUSDT", "1m", k), lazy.block("BTCUSDT", "1m", k)
        assert (x.start, x.complete, x.final) == (y.start, y.complete, y.final)
        for a, b in zip(x.cols, y.cols):
            assert np.array_equal(a, b)
    for t in range(t_from + 60_000 * 6, t_to - span, 60_000):
        outcome = []
        for store in (eager, lazy):
            try:
                outcome.append(store.vwap("BTCUSDT", t))
            except bt.BtkError as exc:
                outcome.append(type(exc).__name__)
        a, b = outcome
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), t
    reports = {name: sorted(str(e).replace(f"exchange={name} ", "") for e in errors
                            if isinstance(e, bt.CandleDefectError) and f"exchange={name} " in str(e))
               for name in ("a", "b")}
    assert reports["a"] == reports["b"] and len(reports["a"]) >= 2


def test_a_backtest_gives_the_same_results_with_and_without_prefetch(errors, monkeypatch):
    cols = messy_candles()
    bt.set_config(CC_CANDLE_BLOCK_SIZE=100, CC_GET_CANDLES_RETRY_DELAY_MS=0)
    register("x", cols, [])
    frame_and_strategy(cols)
    eager = run_s(errors)
    monkeypatch.setattr(CandleStore, "prefetch", lambda self, *args: None)
    lazy = run_s(errors)
    assert len(eager[0]) > 20 and any("CandleDefectError" in e for e in eager[1])
    assert eager == lazy


@pytest.mark.parametrize("interval", ["1m", "5m"])
def test_windows_over_prefetched_blocks_are_views_equal_to_lazy_windows(interval, errors):
    cols = messy_candles()
    step = 60_000 if interval == "1m" else 300_000
    aligned = cols[0] % step == 0  # the aligned minutes of the 1m candles serve as candles of a coarser interval
    cols = [col[aligned] for col in cols]
    bt.set_config(CC_CANDLE_BLOCK_SIZE=40, CC_GET_CANDLES_RETRY_DELAY_MS=0)
    register("a", cols, [])
    register("b", cols, [])
    eager, lazy = CandleStore(lookup("exchange", "a"), snapshot()), CandleStore(lookup("exchange", "b"), snapshot())
    t_from, t_to = int(cols[0][0]), int(cols[0][-1]) + step
    eager.prefetch("BTCUSDT", t_from, t_to, interval)
    span = 40 * step
    clean = (int(cols[0][0]) // span + 1) * span, (int(cols[0][0]) // span + 4) * span  # blocks without defects
    for a, b in [(t_from, t_to), (t_from + 7 * step, t_to - 3 * step), (clean[0] + step, clean[1] - 2 * step)]:
        x, y = eager.window("BTCUSDT", interval, a, b), lazy.window("BTCUSDT", interval, a, b)
        for p, q in zip(x, y):
            assert np.array_equal(p, q, equal_nan=True)
            assert not p.flags.writeable
    view = eager.window("BTCUSDT", interval, *clean)
    assert len(view[0]) and view[0].base is not None  # consecutive prefetched blocks: a slice, not a copy


def test_the_sweep_reads_nothing_the_general_loop_would_not(errors, monkeypatch):
    """A source that fails for one block: the sweep (a pair alone and unobserved) resolves positions only over
    the blocks the prefetch loaded and leaves the rest to the general loop, so the source is asked exactly as
    often, and the results and errors are the same, as without the sweep."""
    from btk_core.modes import backtest as loop
    cols = messy_candles()
    bt.set_config(CC_CANDLE_BLOCK_SIZE=100, CC_GET_CANDLES_RETRY_DELAY_MS=0)
    broken = (int(cols[0][0]) // 6_000_000 + 12) * 6_000_000  # one block of 100 minutes, inside the frame
    cols[1][int(np.searchsorted(cols[0], broken + 50 * 60_000))] = np.nan  # the prefetch leaves it to the block path
    calls = []

    def get_candles(symbol, interval, since, limit):
        calls.append((interval, since, limit))
        if since == broken:  # ... where reading it fails
            raise ConnectionError("that block is gone")
        i0 = int(np.searchsorted(cols[0], since))
        return [list(row) for row in zip(*(col[i0:i0 + limit].tolist() for col in cols))]

    bt.add_exchange(exchange_name="x", get_candles=get_candles)
    frame_and_strategy(cols)

    def run():
        calls.clear()
        return (*run_s(errors), sorted(calls))

    swept = run()
    monkeypatch.setattr(loop, "can_sweep", lambda run: False)
    general = run()
    assert len(swept[0]) > 20 and any("that block is gone" in e for e in swept[1])
    assert swept == general
