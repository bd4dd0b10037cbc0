"""SPEC §20.1, §20.2: a live run killed before any of its state writes and started again gives the results
and notifications of an uninterrupted run; every notification carries a stable ``delivery_id``; one run per
pair.

The kill is simulated in-process: an adapter raises ``Killed`` (a ``BaseException``, which nothing in btk
catches) just before the k-th write, the run's generator dies with it, and the "new process" is a fresh
``Live`` with the same stores. Every k from the first write to the last is tried.
"""
import json

import pytest

import btk_core as bt
from btk_core import clock
from btk_core.errors import AlreadyRunningError
from btk_core.persist.file import FilePersist
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table

STORES = ("signal", "schedule", "risk", "partial", "journal", "ledger")


class Killed(BaseException):
    pass


class Writes:
    """Counts writes over every store; the ``kill_at``-th never happens."""

    def __init__(self):
        self.count, self.kill_at = 0, 0

    def factory(self, name, base):
        counter, inner = self, FilePersist(name, base)

        class Adapter:
            def __getattr__(self, attr):
                return getattr(inner, attr)

            def write_value(self, entity_id, value):
                counter.count += 1
                if counter.count == counter.kill_at:
                    raise Killed
                inner.write_value(entity_id, value)
        return Adapter()


@pytest.fixture
def writes(tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path / "state"))
    counter = Writes()
    for store in STORES:
        bt.use_persist_adapter(store, counter.factory)
    yield counter
    for store in STORES:
        bt.use_persist_adapter(store, None)


def scenario(delivered):
    """A limit long that activates on a candle which also hits its stop loss (minute 20), then a market long
    that fires profit milestones and takes its profit (minutes 41..45), all on a 5m strategy."""
    quiet_market({"BTC": {20: (100, 100.2, 95.5, 96), 42: (100, 100.4, 99.9, 100.3), 43: (100.3, 100.8, 100.2, 100.7),
                          44: (100.7, 101.6, 100.6, 101.5)}})
    record = lambda kind: lambda symbol, row, *rest: delivered.append(
        f"{row.id}:{kind}" + (f":{rest[1]:g}" if kind.startswith("partial") else ""))
    callbacks = {f"on_{k}": record(n) for k, n in (("open", "opened"), ("close", "closed"), ("schedule", "scheduled"),
                                                    ("cancel", "cancelled"), ("partial_profit", "partial_profit"),
                                                    ("partial_loss", "partial_loss"))}
    bt.add_strategy(strategy_name="s", interval="5m", callbacks=callbacks, get_signal=signal_table({
        ("BTC", 10): {"id": "limit", "position": "long", "price_open": 97, "price_take_profit": 99,
                      "price_stop_loss": 96, "minute_estimated_time": 60},
        ("BTC", 41): {"id": "market", **long_at_market(tp=101.5, sl=99)}}))


def run(fake_clock, until, closes=None):
    """Tick until ``until``; returns the closes ``(id, reason, close_timestamp, price)`` the run yielded (also
    appended to ``closes`` as they come, so a killed run keeps what it had yielded)."""
    def sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        if fake_clock.now >= until:
            bt.Live.stop("BTC", "s")
    clock.set_clock(fake_clock.now_ms, sleep)
    closes = [] if closes is None else closes
    for r in bt.Live.run("BTC", strategy_name="s", exchange_name="ex"):
        if r.action == "closed":
            closes.append((r.signal.id, r.close_reason, r.close_timestamp, r.current_price))
    return closes


def test_the_reference_run(fake_clock, writes):
    delivered = []
    scenario(delivered)
    fake_clock.now = T0 + 10 * M
    assert run(fake_clock, T0 + 60 * M) == [("limit", "stop_loss", T0 + 21 * M, 96.0),
                                             ("market", "take_profit", T0 + 45 * M, 101.5)]
    assert delivered == ["limit:scheduled", "limit:opened", "limit:closed", "market:opened",
                         *(f"market:partial_profit:{level}" for level in (10, 20, 30, 40, 50)), "market:closed"]


def test_a_kill_before_any_write_changes_nothing(fake_clock, writes):
    delivered = []
    scenario(delivered)
    fake_clock.now = T0 + 10 * M
    expected = run(fake_clock, T0 + 60 * M)
    expected_delivered, total = list(delivered), writes.count
    assert total > 20
    for k in range(1, total + 1):
        _restart_with_a_kill(fake_clock, writes, k, expected, expected_delivered)


def _restart_with_a_kill(fake_clock, writes, k, expected, expected_delivered):
    import shutil

    from btk_core import registry
    shutil.rmtree(bt.get_config()["CC_PERSIST_BASE_DIR"], ignore_errors=True)
    bt.Live._reset()
    registry.clear_registry()
    delivered = []
    scenario(delivered)
    fake_clock.now = T0 + 10 * M
    writes.count, writes.kill_at = 0, k
    closes = []
    try:
        run(fake_clock, T0 + 60 * M, closes)
    except Killed:
        pass
    writes.kill_at = 0
    bt.Live._reset()  # a new process: nothing in memory, the same stores and clock
    run(fake_clock, T0 + 60 * M, closes)
    by_id = {c[0]: c for c in closes}
    assert sorted(by_id.values()) == sorted(expected), f"kill before write {k}"
    assert set(delivered) == set(expected_delivered), f"kill before write {k}"
    assert [d for d in dict.fromkeys(delivered)] == expected_delivered, f"kill before write {k}: order"
    _paper_agrees(k)


def _paper_agrees(k):
    """The paper broker (the default) placed one entry and one exit per trade, whatever write the kill hit;
    its account and the desk's book agree and the account is flat again."""
    from pathlib import Path
    base = Path(bt.get_config()["CC_PERSIST_BASE_DIR"]) / "ledger"
    account = json.loads((base / "paper" / "BTC--s.json").read_text())
    book = json.loads((base / "desk" / "BTC--s.json").read_text())
    legs = sorted((o["signal_id"], o["purpose"], o["status"]) for o in account["orders"].values())
    assert legs == [("limit", "entry", "closed"), ("limit", "exit", "closed"), ("market", "entry", "closed"),
                    ("market", "exit", "closed")], f"kill before write {k}"
    assert {c: (o["status"], o["filled"]) for c, o in book["orders"].items()} == \
        {c: (o["status"], o["filled"]) for c, o in account["orders"].items()}, f"kill before write {k}"
    assert abs(account["balances"]["BTC"]) < 1e-12 and not book["mismatches"], f"kill before write {k}"


def test_every_notification_carries_its_delivery_id(fake_clock, writes):
    seen = []
    scenario([])
    bt.listen_signal_live(lambda r: seen.append(r.delivery_id) if r.action in ("opened", "closed", "scheduled") else None)
    bt.listen_partial_profit(lambda c: seen.append(c.delivery_id))
    fake_clock.now = T0 + 10 * M
    run(fake_clock, T0 + 60 * M)
    assert seen == ["limit:scheduled", "limit:opened", "limit:closed", "market:opened",
                    *(f"market:partial_profit:{level}" for level in (10, 20, 30, 40, 50)), "market:closed"]


def test_the_throttle_clock_survives_a_restart(fake_clock, tmp_path):
    """A 5m strategy asked at minute 10 is next due at minute 15, restarted at 12 or not (SPEC §20.1.2)."""
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market()
    ask = signal_table({})
    bt.add_strategy(strategy_name="s", interval="5m", get_signal=ask)
    fake_clock.now = T0 + 10 * M
    run(fake_clock, T0 + 12 * M)
    bt.Live._reset()
    run(fake_clock, T0 + 17 * M)
    assert [minute for _, minute in ask.calls] == [10, 15]


def test_a_second_run_of_the_pair_fails_at_once_naming_the_holder(fake_clock, tmp_path):
    import os
    import subprocess
    import sys
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market()
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from btk_core.persist.lock import PairLock; "
        f"lock = PairLock({str(tmp_path)!r}, 'BTC', 's'); lock.acquire(); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(AlreadyRunningError, match=rf"live BTC/s is already running \(pid {holder.pid} on "):
            bt.Live.run("BTC", strategy_name="s", exchange_name="ex")
    finally:
        holder.kill()
        holder.wait()
    fake_clock.now = T0 + 10 * M
    run(fake_clock, T0 + 12 * M)  # the holder died: nothing blocks the restart
    assert os.path.exists(tmp_path / "lock" / "BTC_s.lock")


def test_the_same_pair_twice_in_one_process_is_refused(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market()
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=lambda s, w: None)
    first = bt.Live.run("BTC", strategy_name="s", exchange_name="ex")
    with pytest.raises(AlreadyRunningError):
        bt.Live.run("BTC", strategy_name="s", exchange_name="ex")
    first.close()


def test_halt_ends_the_run_and_leaves_the_position_for_the_next_one(fake_clock, tmp_path):
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path))
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    bt.add_strategy(strategy_name="s", interval="1m", get_signal=signal_table({("BTC", 10): long_at_market()}))
    clock.set_clock(fake_clock.now_ms, lambda s: setattr(fake_clock, "now", fake_clock.now + int(s * 1000)))
    fake_clock.now = T0 + 10 * M
    out = []
    for result in bt.Live.run("BTC", strategy_name="s", exchange_name="ex"):
        out.append(result.action)
        bt.Live.halt("BTC", "s")
    row_id = json.loads((tmp_path / "signal" / "BTC_s" / "BTC.json").read_text())["id"]
    assert out == ["opened"] and fake_clock.now == T0 + 10 * M  # halted at once, nothing cancelled
    bt.Live._reset()
    assert run(fake_clock, T0 + 50 * M) == [(row_id, "take_profit", T0 + 41 * M, 101.0)]
