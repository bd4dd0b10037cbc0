"""Walk-forward windows and figures, with worked numbers."""
import pytest

from btk_core.walkforward import Window, daily_rate, efficiency_ratio, windows

D = 86_400_000


def test_rolling_windows_move_by_the_test_length_and_stop_inside_the_frame():
    # 10 days, train 4, test 2: tests 4-6, 6-8, 8-10
    assert windows(0, 10 * D, 4 * D, 2 * D) == [Window(0, 0, 4 * D, 4 * D, 6 * D), Window(1, 2 * D, 6 * D, 6 * D, 8 * D),
                                                Window(2, 4 * D, 8 * D, 8 * D, 10 * D)]


def test_anchored_windows_keep_their_start_and_a_step_can_overlap_tests():
    got = windows(0, 10 * D, 4 * D, 3 * D, step_ms=2 * D, anchored=True)
    assert [(w.train_start, w.train_end, w.test_end) for w in got] == [(0, 4 * D, 7 * D), (0, 6 * D, 9 * D)]


def test_no_window_and_bad_lengths():
    assert windows(0, 5 * D, 4 * D, 2 * D) == []
    with pytest.raises(ValueError, match="positive"):
        windows(0, 5 * D, 0, 2 * D)


def test_daily_rate_and_efficiency_worked_example():
    # +21 % over 2 days is +10 % a day; -19 % over 2 days is -10 % a day
    assert daily_rate(21.0, 2) == pytest.approx(10.0)
    assert daily_rate(-19.0, 2) == pytest.approx(-10.0)
    assert daily_rate(None, 2) is None and daily_rate(-100.0, 2) is None
    # in sample 2 % and 4 % a day (mean 3), out of sample 1 % and 0.5 % (mean 0.75): efficiency 0.25
    assert efficiency_ratio([2.0, 4.0], [1.0, 0.5]) == pytest.approx(0.25)
    assert efficiency_ratio([-1.0, -2.0], [1.0]) is None  # nothing in sample to keep
    assert efficiency_ratio([None], [1.0]) is None
