"""A live run that may be killed at any instant (driven by test_live_crash.py).

Time comes from a clock file advanced once per completed tick, so a restarted process re-runs at most the
tick it was killed in. The strategy (5m, so the persisted throttle clock matters) alternates market entries
and limit entries that activate, time out or are rejected by price; positions fire profit and loss
milestones. Every notification is appended to ``delivered.log`` by its callback (at least once: repeats
allowed); trades are recorded by ``on_close``, idempotent by signal id.

With ``BTK_KILL_AT_WRITE=N`` the process kills itself with SIGKILL just before its N-th state write (any
store, the broker's ledger included), which puts a kill between every two steps of a change: before its
commit, between the commit and the stores, between the stores, between an order's intent and the venue's
answer, and after the callbacks but before the record of their delivery.

Orders go to the paper broker (the default), or with ``BTK_FAKE_VENUE=<url>`` to the fake Binance at that
address through the ccxt broker (the strategy is then long only: a spot account cannot short).
Usage: python live_crash_child.py STATE_DIR ADAPTER START_MS END_MS [REDIS_URL]
"""
import json
import os
import signal
import sys
from pathlib import Path

import btk_core as bt
from btk_core import clock
from btk_core.exchanges import add_synthetic_exchange

state, adapter, start, end = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
clock_file, trades_file, delivered_file = state / "clock", state / "trades.json", state / "delivered.log"
kill_at_write = int(os.environ.get("BTK_KILL_AT_WRITE", "0"))
venue_url = os.environ.get("BTK_FAKE_VENUE")
STORES = ("signal", "schedule", "risk", "partial", "journal", "ledger")


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


def deliver(delivery_id):
    with open(delivered_file, "a") as f:
        f.write(delivery_id + "\n")


def on_close(symbol, row, price, backtest):
    deliver(f"{row.id}:closed")
    trades = read_json(trades_file, [])
    if all(t["id"] != row.id for t in trades):
        trades.append({"id": row.id, "pending_at": row.pending_at, "price_open": row.price_open, "price": price})
        replace(trades_file, json.dumps(trades))


CALLBACKS = {
    "on_open": lambda symbol, row, price, backtest: deliver(f"{row.id}:opened"),
    "on_schedule": lambda symbol, row, price, backtest: deliver(f"{row.id}:scheduled"),
    "on_cancel": lambda symbol, row, price, backtest: deliver(f"{row.id}:cancelled"),
    "on_partial_profit": lambda symbol, row, price, level, backtest: deliver(f"{row.id}:partial_profit:{level:g}"),
    "on_partial_loss": lambda symbol, row, price, level, backtest: deliver(f"{row.id}:partial_loss:{level:g}"),
    "on_close": on_close,
}


def get_signal(symbol, when):
    minute = int(when.timestamp() * 1000) // 60000
    price = bt.get_average_price(symbol)
    long = venue_url is not None or (minute // 5) % 2 == 0
    sign = 1 if long else -1
    row = {"id": f"{symbol}-{minute}", "position": "long" if long else "short",
           "price_take_profit": price * (1 + sign * 0.006), "price_stop_loss": price * (1 - sign * 0.006),
           "minute_estimated_time": 90}
    if (minute // 10) % 3 == 1:  # a limit entry away from the price: activates, or times out when far
        entry = price * (1 - sign * (0.0015 if (minute // 30) % 2 else 0.005))
        row.update(price_open=entry, price_take_profit=entry * (1 + sign * 0.006),
                   price_stop_loss=entry * (1 - sign * 0.006))
    return row


class KillBeforeWrite:
    """An adapter whose N-th write (counted over every store of the process) never starts: SIGKILL."""

    writes = 0

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def write_value(self, entity_id, value):
        KillBeforeWrite.writes += 1
        if KillBeforeWrite.writes == kill_at_write:
            os.kill(os.getpid(), signal.SIGKILL)
        self.inner.write_value(entity_id, value)


clock.set_clock(lambda: now[0], sleep)
bt.set_config(CC_PERSIST_BASE_DIR=str(state / "data"), CC_SCHEDULE_AWAIT_MINUTES=20)
if adapter == "sqlite":
    from btk_core.persist.sqlite import sqlite_factory as factory
elif adapter == "redis":
    from btk_core.persist.redis import redis_factory
    factory = redis_factory(sys.argv[5], prefix="crash:")
else:
    from btk_core.persist.file import FilePersist as factory
for store in STORES:
    bt.use_persist_adapter(store, lambda name, base, f=factory: KillBeforeWrite(f(name, base)))
add_synthetic_exchange("syn")
bt.add_risk(risk_name="book", validations=[lambda p: None])
bt.add_strategy(strategy_name="crashy", interval="5m", get_signal=get_signal, risk_name="book", callbacks=CALLBACKS)
broker = "paper"
if venue_url:
    import ccxt

    from tests.fakes.binance import point_at
    venue = ccxt.binance({"enableRateLimit": False})
    point_at(venue, venue_url)
    broker = bt.CcxtBroker(venue, backoff_s=0.01)
print("ready", flush=True)
run = bt.Live.run("BTCUSDT", strategy_name="crashy", exchange_name="syn", broker=broker)
if now[0] >= end:  # restarted after the end: stopped like the run that was killed, from the first tick
    bt.Live.stop("BTCUSDT", "crashy")
for _ in run:
    pass
print("done", flush=True)
