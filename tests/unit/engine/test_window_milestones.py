"""``window_milestones`` (all positions of a run at once, counting by each window's best price) against
``milestones`` window by window: the same levels, candles and prices, and the same counts."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from btk_core.evaluate import milestones, window_milestones
from btk_core.signals import SignalRow

PROFIT, LOSS = (10.0, 20.0, 50.0, 90.0), (40.0, 80.0)


def _row(long: bool, entry: float, tp: float, sl: float) -> SignalRow:
    sign = 1 if long else -1
    return SignalRow(id="x", position="long" if long else "short", price_open=entry,
                     price_take_profit=entry + sign * tp, price_stop_loss=entry - sign * sl,
                     minute_estimated_time=60, symbol="S", exchange_name="e", strategy_name="s",
                     scheduled_at=0, pending_at=0, is_scheduled=False, note="")


@st.composite
def run(draw):
    n = draw(st.integers(5, 120))
    closes = np.cumsum(np.array(draw(st.lists(st.floats(-1, 1), min_size=n, max_size=n)))) + 100
    high = closes + np.array(draw(st.lists(st.floats(0, 2), min_size=n, max_size=n)))
    low = closes - np.array(draw(st.lists(st.floats(0, 2), min_size=n, max_size=n)))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=2, max_size=12)))
    windows = []
    for a, b in zip(cuts[::2], cuts[1::2]):
        row = _row(draw(st.booleans()), float(closes[min(a, n - 1)]), draw(st.floats(0.5, 6)), draw(st.floats(0.5, 6)))
        fired_loss = frozenset(draw(st.sets(st.sampled_from(LOSS), max_size=1)))
        windows.append((row, a, b, frozenset(), fired_loss))
    return np.arange(n, dtype=np.int64) * 60_000, high, low, windows


@settings(max_examples=300, deadline=None)
@given(run(), st.sampled_from([0, 1, 3, 250]))
def test_window_milestones_equal_milestones_window_by_window(data, newest_events):
    ts, high, low, windows = data
    runs, counts = window_milestones(ts, high, low, windows, PROFIT, LOSS, newest_events=newest_events)
    expected = []
    for row, a, b, fired_profit, fired_loss in windows:
        found = milestones(row, high[a:b], low[a:b], profit_levels=PROFIT, loss_levels=LOSS,
                           fired_profit=set(fired_profit), fired_loss=set(fired_loss))
        expected.append(sorted((m.kind, m.level, int(ts[a + m.candle]), m.price) for m in found))
    assert counts == [len(e) for e in expected]
    built = 0
    for k in range(len(windows) - 1, -1, -1):
        got = sorted((kind, level, at, price) for kind, levels, ats, prices in runs[k]
                     for level, at, price in zip(levels, ats, prices))
        if newest_events and built >= newest_events:
            assert got == []  # older than what the report store keeps: counted only
            continue
        assert got == expected[k]
        built += len(got)
