"""TimingLog: the newest ``limit`` timings as numbers, read back as the tuples a report needs."""
from hypothesis import given, settings
from hypothesis import strategies as st

from btk_core.queues import TimingLog


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(0, 7), entries=st.lists(st.tuples(
    st.floats(0, 1e6), st.one_of(st.none(), st.floats(0, 1e6)), st.sampled_from(["backtest_timeframe", "backtest_signal"]),
    st.floats(0, 1e3), st.sampled_from(["binance", "ex"])), max_size=40))
def test_it_keeps_what_a_list_cut_to_the_limit_keeps(limit, entries):
    log = TimingLog(limit)
    for entry in entries:
        log.record(*entry)
    assert log.seen == len(entries)
    assert log.items == (entries[-limit:] if limit else entries)  # 0: no limit
