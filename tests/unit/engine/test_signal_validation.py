"""SPEC §3.3–§3.5: note cleaning, immediate/scheduled decision and every validation line."""
import math

import pytest

import btk_core as bt
from btk_core.config import snapshot
from btk_core.signals import build_row, to_plain_string


def build(signal, price=100.0, **cfg):
    if cfg:
        bt.set_config(unsafe=True, **cfg)
    return build_row(signal, current_price=price, when=5, symbol="BTC", exchange_name="ex",
                     strategy_name="s", cfg=snapshot())


def err(signal, price=100.0, **cfg):
    with pytest.raises(bt.SignalValidationError) as info:
        build(signal, price, **cfg)
    return str(info.value)


def sig(**kw):
    base = {"position": "long", "price_take_profit": 110, "price_stop_loss": 90, "minute_estimated_time": 60}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not ...}


def test_spec_examples():
    assert err(sig(price_take_profit=100.4)) == \
        "Invalid signal for long position:\nLong: take profit too close to price_open (0.400%), minimum 0.5%"
    assert build(sig(price_stop_loss=80)).price_stop_loss == 80
    assert err(sig(price_stop_loss=79.99)).endswith("Long: stop loss too far from price_open (20.010%), maximum 20%")
    assert build(sig(minute_estimated_time=1440)).minute_estimated_time == 1440
    assert err(sig(minute_estimated_time=10.5)).endswith(
        "minute_estimated_time must be an integer (whole number), got 10.5")
    assert err(sig(price_open=41000, price_take_profit=40000, price_stop_loss=39000), 42000) == (
        "Invalid signal for long position:\n"
        "Long: price_take_profit (40000) must be > price_open (41000)\n"
        "Long scheduled: price_open (41000) >= price_take_profit (40000), it would close on activation\n"
        "Long: take profit too close to price_open (-2.439%), minimum 0.5%")


def test_immediate_and_scheduled_decision():
    market = build(sig())
    assert (market.price_open, market.is_scheduled) == (100.0, False)
    limit_below = build(sig(price_open=99, price_stop_loss=95))
    assert limit_below.is_scheduled and limit_below.price_open == 99
    at_or_above = build(sig(price_open=100.5, price_take_profit=110))
    assert not at_or_above.is_scheduled and at_or_above.price_open == 100.5  # immediate at the given price
    short = build(sig(position="short", price_open=101, price_take_profit=95, price_stop_loss=105))
    assert short.is_scheduled
    short_now = build(sig(position="short", price_open=99, price_take_profit=95, price_stop_loss=105))
    assert not short_now.is_scheduled and short_now.price_open == 99


def test_immediate_rules_use_the_market_price():
    # long limit at 105 is immediate at VWAP 100 but the market is below SL 101 -> stopped out at once
    msg = err(sig(price_open=105, price_take_profit=110, price_stop_loss=101))
    assert "Long immediate: current_price (100) <= price_stop_loss (101), the position would be stopped out at once" in msg
    msg = err(sig(position="short", price_open=95, price_take_profit=100.2, price_stop_loss=99))
    assert "Short immediate: current_price (100) >= price_stop_loss (99)" in msg
    assert "Short immediate: current_price (100) <= price_take_profit (100.2), the profit is already gone" in msg


def test_short_mirror_lines():
    msg = err(sig(position="short", price_take_profit=101, price_stop_loss=99.9))
    assert msg.startswith("Invalid signal for short position:\n")
    assert "Short: price_take_profit (101) must be < price_open (100)" in msg
    assert "Short: price_stop_loss (99.9) must be > price_open (100)" in msg
    assert "Short: stop loss too close to price_open (-0.100%), minimum 0.5%" in msg


def test_field_rules_and_aggregation_order():
    msg = err({"position": "buy", "price_take_profit": "x", "price_stop_loss": -1, "note": 3, "id": 7,
               "minute_estimated_time": True, "extra": 1})
    assert msg.split("\n") == [
        "Invalid signal:",
        "unknown field 'extra'",
        "id must be a non-empty string",
        "position must be 'long' or 'short', got 'buy'",
        "note must be a string",
        "price_take_profit must be a finite number, got 'x'",
        "price_stop_loss must be positive, got -1",
        "minute_estimated_time must be a number, got True",
    ]


@pytest.mark.parametrize("value, line", [
    (None, "signal must be a mapping or SignalDto, got NoneType"), ([1], "signal must be a mapping or SignalDto, got list"),
])
def test_not_a_mapping(value, line):
    assert err(value) == f"Invalid signal:\n{line}"


@pytest.mark.parametrize("m, line", [
    (0, "minute_estimated_time must be positive, got 0"),
    (-5, "minute_estimated_time must be positive, got -5"),
    (math.nan, "minute_estimated_time must be positive, got nan"),
    (math.inf, "minute_estimated_time must be an integer (whole number), got inf"),
    (2000, "minute_estimated_time too large (2000 minutes = 1.4 days). Maximum: 1440 minutes"),
    ("60", "minute_estimated_time must be a number, got '60'"),
])
def test_lifetime_lines(m, line):
    assert err(sig(minute_estimated_time=m)).endswith(line)


def test_current_price_rules():
    assert "current_price must be a finite number, got nan" in err(sig(), math.nan)
    assert "current_price must be positive, got 0" in err(sig(), 0.0)


def test_missing_fields_print_na():
    msg = err({"position": "long"})
    assert "price_take_profit must be a finite number, got N/A" in msg
    assert "minute_estimated_time must be a number, got N/A" in msg


def test_zero_disables_checks_in_unsafe_mode():
    row = build(sig(price_take_profit=100.01, price_stop_loss=50, minute_estimated_time=100000),
                CC_MIN_TAKEPROFIT_DISTANCE_PERCENT=0, CC_MAX_STOPLOSS_DISTANCE_PERCENT=0,
                CC_MAX_SIGNAL_LIFETIME_MINUTES=0)
    assert row.minute_estimated_time == 100000


def test_dto_id_and_note():
    row = build(bt.SignalDto("long", 110, 90, 60.0, note="**Buy** the `dip`", id="abc"))
    assert (row.id, row.note, row.minute_estimated_time) == ("abc", "Buy the dip", 60)
    assert isinstance(row.minute_estimated_time, int)
    for empty in (None, ""):
        fresh = build(sig(id=empty)).id
        assert len(fresh) == 32 and int(fresh, 16) >= 0


@pytest.mark.parametrize("note, plain", [
    (None, ""),
    ("```python\nx = 1\n```Buy now", "Buy now"),
    ("line\n---\nnext", "line next"),
    ("`code` ![alt](u.png) [link](http://x)", "code alt link"),
    ("## Title\n> quoted", "Title quoted"),
    ("***a*** **b** *c* ___d___ __e__ _f_ snake_case_name", "a b c d e f snake_case_name"),
    ("~~gone~~ <b>bold</b>", "gone bold"),
    ("- one\n* two\n+ three\n1. four", "• one • two • three • four"),
    ("  many \n\n  spaces\t", "many spaces"),
])
def test_note_normalisation(note, plain):
    assert to_plain_string(note) == plain
