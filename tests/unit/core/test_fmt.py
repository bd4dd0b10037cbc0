"""SPEC §0.5 formatting helpers."""
from datetime import UTC, datetime

import pytest

from btk_core.fmt import iso, minutes, num, pct, price, safe_name, to_datetime, to_ms


@pytest.mark.parametrize("value, text", [
    (1.0, "1"), (-3.0, "-3"), (0.5, "0.5"), (1e16, "1e+16"), (2, "2"), (None, "N/A"),
    (float("nan"), "nan"), (float("inf"), "inf"), (0.1 + 0.2, "0.30000000000000004"),
])
def test_num(value, text):
    assert num(value) == text


def test_pct_price_minutes():
    assert pct(1.234) == "+1.23%"
    assert pct(-0.5) == "-0.50%"
    assert pct(0.0) == "0.00%"
    assert pct(None) == "N/A"
    assert price(42000.5) == "42000.50000000 USD"
    assert price(None) == "N/A"
    assert minutes(0, 119_999) == 1
    assert minutes(0, 120_000) == 2
    assert minutes(None, 5) == "N/A"


def test_iso_keeps_milliseconds():
    assert iso(1704067200000 + 13 * 60000 + 5) == "2024-01-01T00:13:00.005Z"
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(None) == "N/A"


@pytest.mark.parametrize("name, safe", [
    ("BTCUSDT", "BTCUSDT"), ("my-strat_1.0", "my-strat_1.0"),
    ("BTC/USDT", "BTC_USDT-4d7eaaf1"),
])
def test_safe_name(name, safe):
    assert safe_name(name) == safe


def test_safe_name_never_escapes_directory():
    for name in (".", "..", "../etc", "a b", ""):
        out = safe_name(name)
        assert "/" not in out and out not in (".", "..") and out
        assert out.endswith("-" + __import__("hashlib").sha256(name.encode()).hexdigest()[:8])
    assert safe_name("..").startswith("_-")


def test_time_conversions():
    aware = datetime(2024, 1, 1, tzinfo=UTC)
    assert to_ms(aware, "x") == 1704067200000
    assert to_ms(datetime(2024, 1, 1), "x") == 1704067200000  # naive = UTC
    assert to_ms(5, "x") == 5
    assert to_datetime(1704067200000) == aware
    with pytest.raises(ValueError, match="start_date must be a datetime or int"):
        to_ms("2024-01-01", "start_date")
    with pytest.raises(ValueError):
        to_ms(True, "x")


def test_live_events_read_as_words():
    from btk_core.fmt import describe_result
    from btk_core.results import CancelledResult, ClosedResult, OpenedResult, Pnl
    from btk_core.signals import SignalRow
    row = SignalRow("3f2a9c1e77", "long", "", 67012.5, 67414.58, 66610.43, 120, "BTCUSDT", "ex", "sma", 1717237320000,
                    1717237320000, False)
    base = dict(symbol="BTCUSDT", strategy_name="sma", exchange_name="ex", backtest=False, signal=row)
    assert describe_result(OpenedResult(**base, current_price=67012.5, timestamp=1717237320000)) == (
        "2024-06-01T10:22Z opened long BTCUSDT sma 3f2a9c1e at 67,012.50 (TP 67,414.58, SL 66,610.43, up to 120 min)")
    closed = ClosedResult(**base, current_price=67414.58, timestamp=1717240000000, close_reason="take_profit",
                          close_timestamp=1717240020000, pnl=Pnl(0.4, 67012.5, 67414.58))
    assert describe_result(closed) == ("2024-06-01T11:07Z closed long BTCUSDT sma 3f2a9c1e by take_profit at "
                                       "67,414.58 (entry 67,012.50), PnL +0.40%")
    assert closed.delivery_id == "3f2a9c1e77:closed"
    cancelled = CancelledResult(**base, current_price=None, timestamp=1717240020000, reason="timeout",
                                close_timestamp=1717240020000, cancel_id=None)
    assert describe_result(cancelled).endswith("3f2a9c1e: timeout, limit entry 67,012.50 never filled")
