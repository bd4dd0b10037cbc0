"""The ``btk backtest`` progress bar polls ``Backtest.progress()`` instead of listening to every step."""
import time

import btk_core as bt
from btk_core import events
from btk_core.exchanges import add_synthetic_exchange
from flows import cli

DAY = 1717200000000


def test_the_bar_follows_a_running_pair_without_observing_it():
    add_synthetic_exchange("syn")
    bt.add_frame(frame_name="f", interval="1m", start_date=DAY, end_date=DAY + 300 * 60_000)
    calls, half_way, listeners = [], [], []
    progress, stop = cli._progress_bar()

    def pausing(symbol, when):  # at step 200 it waits long enough for the bar's next poll, and looks at the bar
        calls.append(when)
        listeners.append(len(events.backtest_progress.listeners))
        if len(calls) == 201:
            time.sleep(0.5)
            half_way.extend((t.description, t.completed, t.total) for t in progress.tasks)
        return None

    bt.add_strategy(strategy_name="pausing", interval="1m", get_signal=pausing)
    list(bt.Backtest.run("BTCUSDT", strategy_name="pausing", exchange_name="syn", frame_name="f"))
    stop()
    assert half_way == [("pausing BTCUSDT", 200, 301)]
    assert [(t.completed, t.total) for t in progress.tasks] == [(301, 301)]  # a finished pair shows complete
    assert set(listeners) == {0}  # nobody listened: the run stayed unobserved
