"""A live run that may be killed at any instant (driven by test_live_crash.py).

Time comes from a clock file advanced once per completed tick, so a restarted process re-runs at
most the tick it was killed in; trades are recorded by ``on_close``, idempotent by signal id. The
strategy runs on a 1m interval: the throttle clock is not one of the persisted stores (SPEC §9.2), so
after a restart a flat pair is due at once, and only a 1m strategy decides at the same ticks whether
or not it was restarted.
Usage: python live_crash_child.py STATE_DIR ADAPTER START_MS END_MS [REDIS_URL]
"""
import json
import os
import sys
from pathlib import Path

import btk_core as bt
from btk_core import clock
from btk_core.exchanges import add_synthetic_exchange

state, adapter, start, end = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
clock_file, trades_file = state / "clock", state / "trades.json"


def read_json(path, default):
    return json.loads(path.read_text()) if path.exists() else default


def replace(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a kill leaves the old or the new file (no power loss here, no fsync needed)


now = [read_json(clock_file, start)]


def sleep(seconds):
    now[0] += int(seconds * 1000)
    replace(clock_file, json.dumps(now[0]))
    if now[0] >= end:
        bt.Live.stop("BTCUSDT", "crashy")


def on_close(symbol, signal, price, backtest):
    trades = read_json(trades_file, [])
    if all(t["id"] != signal.id for t in trades):
        trades.append({"id": signal.id, "pending_at": signal.pending_at, "price": price})
        replace(trades_file, json.dumps(trades))


def get_signal(symbol, when):
    minute = int(when.timestamp() * 1000)
    price = bt.get_average_price(symbol)
    return {"id": f"{symbol}-{minute}", "position": "long" if (minute // 300000) % 2 else "short",
            "price_take_profit": price * (1.006 if (minute // 300000) % 2 else 0.994),
            "price_stop_loss": price * (0.994 if (minute // 300000) % 2 else 1.006), "minute_estimated_time": 60}


clock.set_clock(lambda: now[0], sleep)
bt.set_config(CC_PERSIST_BASE_DIR=str(state / "data"))
if adapter == "sqlite":
    from btk_core.persist.sqlite import sqlite_factory
    for store in ("signal", "schedule", "risk", "partial"):
        bt.use_persist_adapter(store, sqlite_factory)
elif adapter == "redis":
    from btk_core.persist.redis import redis_factory
    factory = redis_factory(sys.argv[5], prefix="crash:")
    for store in ("signal", "schedule", "risk", "partial"):
        bt.use_persist_adapter(store, factory)
add_synthetic_exchange("syn")
bt.add_risk(risk_name="book", validations=[lambda p: None])
bt.add_strategy(strategy_name="crashy", interval="1m", get_signal=get_signal, risk_name="book",
                callbacks={"on_close": on_close})
print("ready", flush=True)
for _ in bt.Live.run("BTCUSDT", strategy_name="crashy", exchange_name="syn"):
    pass
print("done", flush=True)
