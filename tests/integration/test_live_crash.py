"""Restart equals no restart (SPEC §9.3, §20.1, §20.2): kill -9 a live run, restart it, and compare.

Two ways to kill, for each adapter: at random instants from outside, and from inside just before a
chosen state write, which puts a kill between every two steps of a change. After every kill each stored
value must parse (never torn); at the end the trades must equal those of an uninterrupted run on the same
candles and clock, and every notification of the uninterrupted run must have been delivered at least once
(nothing else, repeats allowed).
"""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

CHILD = Path(__file__).with_name("live_crash_child.py")
ROOT = Path(__file__).resolve().parents[2]
START = 1717200000000  # 2024-06-01
KILLS = int(os.environ.get("BTK_CRASH_KILLS", "30"))
DAY = 24 * 60 * 60_000


def start_child(state: Path, adapter: str, end: int, extra: list[str], kill_at_write: int = 0,
                venue: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BTK_KILL_AT_WRITE": str(kill_at_write)}
    if venue:
        env.update(BTK_FAKE_VENUE=venue, BTK_CCXT_API_KEY="key", BTK_CCXT_SECRET="secret")
    proc = subprocess.Popen([sys.executable, str(CHILD), str(state), adapter, str(START), str(end), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def check_state(state: Path, adapter: str, extra: list[str]) -> None:
    """Every stored value parses; nothing was ever moved aside as corrupt."""
    if adapter == "file":
        for path in (state / "data").rglob("*.json"):
            if not path.name.startswith(".tmp-"):  # a killed writer's temp file: never read
                json.loads(path.read_text())
        assert not list((state / "data").rglob("*.corrupt-*"))
    elif adapter == "sqlite":
        for db in (state / "data").glob("*.sqlite"):
            with sqlite3.connect(db) as conn:  # a kill between connect and CREATE TABLE leaves no table yet
                if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'").fetchone():
                    for entity_id, value in conn.execute("SELECT entity_id, value FROM state"):
                        json.loads(value)
                        assert ".corrupt-" not in entity_id
    else:
        import redis
        client = redis.Redis.from_url(extra[0])
        for key in client.scan_iter("crash:*"):
            json.loads(client.get(key))
            assert b".corrupt-" not in key


def outcome(state: Path) -> tuple[list, list[str]]:
    trades = state / "trades.json"
    delivered = state / "delivered.log"
    return (json.loads(trades.read_text()) if trades.exists() else [],
            delivered.read_text().split() if delivered.exists() else [])


def paper_orders(state: Path) -> list[tuple]:
    account = json.loads((state / "data" / "ledger" / "paper" / "BTCUSDT--crashy.json").read_text())
    return sorted((cid, o["side"], o["amount"], o["filled"], o["status"]) for cid, o in account["orders"].items())


def kill_from_outside(state, adapter, end, extra, rng) -> int:
    kills = 0
    while True:
        proc = start_child(state, adapter, end, extra)
        if kills < KILLS:
            time.sleep(rng.uniform(0.02, 0.15))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                check_state(state, adapter, extra)
                continue
        assert proc.wait(timeout=300) == 0 and proc.stdout.read().strip() == b"done"
        return kills


def kill_before_writes(state, adapter, end, extra, rng) -> int:
    kills = 0
    while True:
        proc = start_child(state, adapter, end, extra, kill_at_write=rng.randint(1, 25) if kills < KILLS else 0)
        code = proc.wait(timeout=300)
        if code == -signal.SIGKILL:
            kills += 1
            check_state(state, adapter, extra)
            continue
        assert code == 0 and proc.stdout.read().strip() == b"done"
        return kills


def crash_test(tmp_path: Path, adapter: str, killer, days: float, extra: list[str] = ()) -> None:
    calm, crashy = tmp_path / "calm", tmp_path / "crashy"
    calm.mkdir(), crashy.mkdir()
    end = START + int(days * DAY)
    extra = list(extra)
    if adapter == "redis":
        extra_calm = [extra[0].rsplit("/", 1)[0] + "/1"]
        import redis
        redis.Redis.from_url(extra_calm[0]).flushdb()
        redis.Redis.from_url(extra[0]).flushdb()
    else:
        extra_calm = extra
    assert start_child(calm, adapter, end, extra_calm).wait(timeout=300) == 0
    expected_trades, expected_delivered = outcome(calm)
    assert len(expected_trades) >= 10 and len(set(expected_delivered)) == len(expected_delivered)
    assert {d.split(":")[1] for d in expected_delivered} == {"opened", "closed", "scheduled", "cancelled",
                                                             "partial_profit", "partial_loss"}
    kills = killer(crashy, adapter, end, extra, random.Random(adapter + killer.__name__))
    assert kills >= KILLS
    trades, delivered = outcome(crashy)
    assert trades == expected_trades                            # none lost, duplicated or changed
    if adapter == "file":  # the paper broker (the default) placed exactly the orders of the calm run
        assert paper_orders(crashy) == paper_orders(calm) and len(paper_orders(calm)) == 2 * len(expected_trades)
    assert set(delivered) == set(expected_delivered)            # every notification at least once, no other
    repeats = len(delivered) - len(set(delivered))
    print(f"{adapter} {killer.__name__}: {kills} kills, {len(trades)} trades, {len(set(delivered))} notifications, "
          f"{repeats} delivered again")


def test_file_adapter_survives_kill_9(tmp_path):
    crash_test(tmp_path, "file", kill_from_outside, 2)


def test_file_adapter_survives_a_kill_before_any_write(tmp_path):
    crash_test(tmp_path, "file", kill_before_writes, 1)


def test_sqlite_adapter_survives_kill_9(tmp_path):
    crash_test(tmp_path, "sqlite", kill_from_outside, 2)


def test_sqlite_adapter_survives_a_kill_before_any_write(tmp_path):
    crash_test(tmp_path, "sqlite", kill_before_writes, 1)


def test_redis_adapter_survives_kill_9(tmp_path, redis_server):
    crash_test(tmp_path, "redis", kill_from_outside, 2, [redis_server.url])


def test_redis_adapter_survives_a_kill_before_any_write(tmp_path, redis_server):
    crash_test(tmp_path, "redis", kill_before_writes, 1, [redis_server.url])


def venue_orders(server) -> list[tuple]:
    return sorted((o["clientOrderId"], o["side"], o["type"], o["origQty"], o["executedQty"], o["status"])
                  for o in server.account.orders)


def book_agrees_with_venue(state: Path, server) -> None:
    book = json.loads((state / "data" / "ledger" / "desk" / "BTCUSDT--crashy.json").read_text())
    statuses = {"FILLED": "closed", "CANCELED": "canceled", "EXPIRED": "canceled", "NEW": "open"}
    venue = {o["clientOrderId"]: (statuses[o["status"]], float(o["executedQty"])) for o in server.account.orders}
    sent = {cid: (o["status"], o["filled"]) for cid, o in book["orders"].items() if o["status"] != "rejected"}
    assert sent == venue and not book["mismatches"]


def test_orders_survive_kill_9_at_every_step_of_their_life(tmp_path):
    """Orders on the fake Binance through the ccxt broker, killed at random instants, just before a state or
    ledger write (between an order's intent and its sending, between the venue's answer and its record,
    between the record and the pair's state) and by the venue itself right after it accepted an order, before
    its answer reaches btk. The venue must end with exactly the orders of a run nobody killed (client ids,
    amounts, fills): no duplicate, none lost; btk's book agrees with it and the account is flat."""
    from tests.fakes.binance import FakeBinance
    calm, crashy = tmp_path / "calm", tmp_path / "crashy"
    calm.mkdir(), crashy.mkdir()
    end = START + DAY // 2
    rng = random.Random("orders")
    with FakeBinance(lambda *a: []) as calm_venue, FakeBinance(lambda *a: []) as venue:
        assert start_child(calm, "file", end, [], venue=calm_venue.url).wait(timeout=300) == 0
        expected = venue_orders(calm_venue)
        assert len(expected) >= 20 and {o[2] for o in expected} == {"MARKET", "LIMIT"}
        kills = {"outside": 0, "write": 0, "venue": 0}
        while True:
            how = rng.choice(list(kills)) if sum(kills.values()) < KILLS else None
            proc = start_child(crashy, "file", end, [], kill_at_write=rng.randint(1, 40) if how == "write" else 0,
                               venue=venue.url)
            creates = len(venue.account.created)
            if how == "venue":
                kill_after = rng.randint(1, 3)
                venue.account.on_create = (
                    lambda order, pid=proc.pid, n=creates + kill_after: os.kill(pid, signal.SIGKILL)
                    if len(venue.account.created) >= n else None)
            elif how == "outside":
                time.sleep(rng.uniform(0.05, 0.4))
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=300)
            venue.account.on_create = None
            if code == -signal.SIGKILL:
                kills[how] += 1
                continue
            assert code == 0 and proc.stdout.read().strip() == b"done"
            if how is None:
                break
        assert venue_orders(venue) == expected
        assert len({o[0] for o in venue_orders(venue)}) == len(expected)  # no client id twice
        assert abs(venue.account.balances.get("BTC", 0.0)) < 1e-9
        book_agrees_with_venue(crashy, venue)
        assert min(kills.values()) >= 1
        print(f"orders: {kills} kills, {len(expected)} venue orders, as in the run nobody killed")
