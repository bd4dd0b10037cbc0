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


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(0, 7), before=st.integers(0, 5), ends=st.lists(st.floats(0, 1e6), max_size=20),
       previous=st.one_of(st.none(), st.floats(0, 1e6)))
def test_record_many_equals_recording_each_timing_chained_to_the_one_before(limit, before, ends, previous):
    one_by_one, at_once = TimingLog(limit), TimingLog(limit)
    for log in (one_by_one, at_once):
        for k in range(before):
            log.record(float(k), None, "backtest_signal", 1.0, "ex")
    durations = [e / 7 for e in ends]
    chained = previous
    for end, duration in zip(ends, durations):
        one_by_one.record(end, chained, "backtest_timeframe", duration, "ex")
        chained = end
    at_once.record_many(ends, previous, "backtest_timeframe", durations, "ex")
    assert at_once.items == one_by_one.items and at_once.seen == one_by_one.seen
