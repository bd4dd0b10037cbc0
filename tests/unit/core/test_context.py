"""SPEC §17.3 context helpers."""
from datetime import UTC, datetime

import pytest

import btk_core as bt
from btk_core.candle_store import CandleStore
from btk_core.config import snapshot
from btk_core.context import RunContext, run_context
from tests.helpers import T0, ListSource, M, flat_candles


@pytest.mark.parametrize("call", [
    lambda: bt.get_candles("BTC", "1m", 5), lambda: bt.get_average_price("BTC"), lambda: bt.get_date(),
    lambda: bt.get_mode(), lambda: bt.format_price("BTC", 1.0), lambda: bt.format_quantity("BTC", 1.0),
])
def test_helpers_outside_a_run_raise_context_error(call):
    with pytest.raises(bt.ContextError, match="can only be called inside a run"):
        call()


def make_ctx(fake_clock, **exchange_kw):
    fake_clock.now = T0 + 1000 * M
    ex = bt.add_exchange(exchange_name="ex", get_candles=ListSource({"1m": flat_candles(T0 - 100 * M, 200)}),
                         **exchange_kw)
    return RunContext(store=CandleStore(ex, snapshot()), cfg=snapshot(), exchange=ex, backtest=True,
                      symbol="BTC", strategy_name="s", when=T0 + 10 * M + 1)


def test_helpers_inside_a_run(fake_clock):
    with run_context(make_ctx(fake_clock)):
        assert bt.get_candles("BTC", "1m", 3).timestamp.tolist() == [T0 + 7 * M, T0 + 8 * M, T0 + 9 * M]
        assert bt.get_average_price("BTC") == 100.0
        assert bt.get_date() == datetime(2024, 1, 1, 0, 10, 0, 1000, tzinfo=UTC)
        assert bt.get_mode() == "backtest"
        assert bt.format_price("BTC", 1.5) == "1.50000000"
        assert bt.format_quantity("BTC", 2) == "2.00000000"
    with pytest.raises(bt.ContextError):
        bt.get_mode()


def test_exchange_formatters_are_used(fake_clock):
    ctx = make_ctx(fake_clock, format_price=lambda s, p: f"{p:.2f}", format_quantity=lambda s, q: f"{q:.3f}")
    with run_context(ctx):
        assert bt.format_price("BTC", 1.5) == "1.50" and bt.format_quantity("BTC", 2) == "2.000"


@pytest.mark.parametrize("interval, limit", [("2m", 5), ("12h", 1), ("1m", 0), ("1m", 2.0), ("1m", True)])
def test_get_candles_rejects_bad_arguments(fake_clock, interval, limit):
    with run_context(make_ctx(fake_clock)), pytest.raises(ValueError):
        bt.get_candles("BTC", interval, limit)


def test_context_is_visible_in_copied_thread_context(fake_clock):
    import contextvars
    import threading
    seen = []
    with run_context(make_ctx(fake_clock)):
        ctx = contextvars.copy_context()
    t = threading.Thread(target=lambda: ctx.run(lambda: seen.append(bt.get_mode())))
    t.start()
    t.join()
    assert seen == ["backtest"]
