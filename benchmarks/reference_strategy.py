"""The peer benchmark's reference strategy written for btk (../shared/bench/peers/STRATEGY.md).

SMA 5/20 cross of 5-minute closes, long only, TP/SL +-1 %, 24 h lifetime. btk decides at
each 5m boundary on the candles closed by then and enters at the average price (SPEC §2.9),
so run it with slippage 0 and compare trade counts, not trade lists.
"""
from __future__ import annotations

from datetime import datetime

from btk_core import add_frame, add_strategy, get_average_price, get_candles, set_config
from btk_core.exchanges import add_files_exchange

FAST, SLOW, MAX_HOLD = 5, 20, 1440


def get_signal(symbol: str, when: datetime) -> dict | None:
    closes = get_candles(symbol, "5m", SLOW + 1).close.tolist()
    if len(closes) < SLOW + 1:
        return None
    fast_now = sum(closes[-FAST:]) / FAST
    slow_now = sum(closes[-SLOW:]) / SLOW
    fast_before = sum(closes[-FAST - 1:-1]) / FAST
    slow_before = sum(closes[-SLOW - 1:-1]) / SLOW
    if not (fast_now > slow_now and fast_before <= slow_before):
        return None
    price = get_average_price(symbol)
    return {"position": "long", "price_take_profit": price * 1.01, "price_stop_loss": price * 0.99,
            "minute_estimated_time": MAX_HOLD}


def register(data_dir: str, start_ms: int, candles: int) -> None:
    """Exchange ``bench`` over the files, strategy ``sma`` and frame ``bench`` (entries end a day early)."""
    set_config(CC_PERCENT_SLIPPAGE=0, CC_GET_CANDLES_RETRY_DELAY_MS=0)
    add_files_exchange("bench", data_dir)
    add_strategy(strategy_name="sma", interval="5m", get_signal=get_signal)
    add_frame(frame_name="bench", interval="5m", start_date=start_ms,
              end_date=start_ms + (candles - MAX_HOLD - 1) * 60_000)
