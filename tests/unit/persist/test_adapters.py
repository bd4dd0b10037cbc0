"""The PersistBase contract (SPEC §9.7), the same suite for every adapter; file-adapter specifics (§9.3, §9.5)."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import btk_core as bt
from btk_core.persist import encode, open_store, use_persist_adapter
from btk_core.persist.file import FilePersist
from btk_core.persist.sqlite import sqlite_factory


@pytest.fixture(params=["file", "sqlite", "redis"])
def adapter(request, tmp_path):
    if request.param == "sqlite":
        use_persist_adapter("signal", sqlite_factory)
    elif request.param == "redis":
        from btk_core.persist.redis import redis_factory
        server = request.getfixturevalue("redis_server")
        use_persist_adapter("signal", redis_factory(server.url, prefix=f"test-{tmp_path.name}:"))
    yield open_store("signal", "BTC_s", str(tmp_path))
    use_persist_adapter("signal", None)


def test_contract(adapter):
    assert adapter.read_value("BTC") is None and not adapter.has_value("BTC")
    row = {"id": "x", "price_open": 100.5, "nested": {"b": 1, "a": [1, 2]}}
    adapter.write_value("BTC", row)
    assert adapter.read_value("BTC") == row and adapter.has_value("BTC")
    adapter.write_value("BTC", None)  # the pending store writes null on close
    assert adapter.read_value("BTC") is None and adapter.has_value("BTC")
    adapter.write_value("ETH", [1])
    assert list(adapter.keys()) == ["BTC", "ETH"] and list(adapter.values()) == [None, [1]]
    adapter.remove_value("BTC")
    assert list(adapter.keys()) == ["ETH"]
    adapter.remove_all()
    assert list(adapter.keys()) == []
    with pytest.raises(ValueError):
        adapter.write_value("BTC", {"price": float("nan")})


def test_json_form_is_sorted_and_compact():
    assert encode({"b": 1, "a": [1.5, None]}) == b'{"a":[1.5,null],"b":1}'


def test_file_layout_and_no_temp_files_left(tmp_path):
    store = open_store("schedule", "BTC/USDT_s", str(tmp_path))
    store.write_value("BTC/USDT", {"id": "1"})
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].startswith("schedule/BTC_USDT_s-") and files[0].endswith(".json")
    assert not list(tmp_path.rglob(".tmp-*"))


def test_corrupt_file_is_moved_aside_and_reported(tmp_path, fake_clock, errors):
    store = FilePersist("BTC_s", str(tmp_path))
    store.wait_for_init(True)
    store.path("BTC").write_text('{"id": "trunc')
    assert store.read_value("BTC") is None
    aside = store.path("BTC").with_name(f"BTC.json.corrupt-{fake_clock.now}")
    assert aside.read_text() == '{"id": "trunc' and not store.path("BTC").exists()
    (err,) = errors
    assert isinstance(err, bt.PersistCorruptError) and str(aside) in str(err) and str(store.path("BTC")) in str(err)


def test_stale_temp_files_of_killed_writers_are_dropped_at_init(tmp_path):
    store = FilePersist("BTC_s", str(tmp_path))
    store.wait_for_init(True)
    old, fresh = store.directory / ".tmp-aaaa-BTC.json", store.directory / ".tmp-bbbb-BTC.json"
    old.write_text("")
    fresh.write_text("{")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    FilePersist("BTC_s", str(tmp_path)).wait_for_init(True)
    assert not old.exists() and fresh.exists()


def test_use_persist_adapter_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="store must be one of"):
        use_persist_adapter("orders", None)
    with pytest.raises(TypeError):
        use_persist_adapter("risk", "sqlite")
    made = []
    use_persist_adapter("risk", lambda name, base: made.append((name, base)) or FilePersist(name, base))
    open_store("risk", "max2", str(tmp_path))
    use_persist_adapter("risk", None)
    assert made == [("max2", f"{tmp_path}/risk")]


WRITER = """
import sys
from btk_core.persist.file import FilePersist
store = FilePersist("BTC_s", sys.argv[1])
store.wait_for_init(True)
print("ready", flush=True)
k = 0
while True:
    k += 1
    store.write_value("BTC", {"k": k, "pad": "x" * 20000})
"""


def test_kill_9_never_leaves_a_torn_file(tmp_path):
    """SIGKILL a writer at random moments: the file is always the old or the new whole value."""
    rng = random.Random(7)
    last = 0
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.01, 0.15))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        value = FilePersist("BTC_s", str(tmp_path)).read_value("BTC")
        assert value is None or (value["pad"] == "x" * 20000 and value["k"] >= 1)
        last = max(last, value["k"] if value else 0)
    assert last > 0
    leftovers = [p for p in Path(tmp_path).rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
    assert [p.name for p in leftovers] == ["BTC.json"]


def test_redis_server_going_away_is_reported_and_writes_resume(tmp_path, errors):
    """Writes during an outage emit PersistError and lose nothing in memory; the next write after the
    server is back stores the full current value."""
    from btk_core.pair_machine import PairState
    from btk_core.persist.redis import redis_factory
    from btk_core.persist.state import PairPersistence
    from tests.redis_server import RedisServer
    server = RedisServer(str(tmp_path)).start()
    try:
        for store in ("signal", "schedule", "partial"):
            use_persist_adapter(store, redis_factory(server.url, retries=1))
        state = PairPersistence("BTC", "s", "ex", str(tmp_path))
        row = bt.SignalRow("x", "long", "", 100.0, 101.0, 99.0, 60, "BTC", "ex", "s", 0, 0, False)
        held, flat = PairState(row, None, frozenset(), frozenset(), 0), PairState(None, None, frozenset(), frozenset(), 0)
        state.commit(held, ())
        server.stop()
        state.commit(flat, ())
        assert {e.store for e in errors if isinstance(e, bt.PersistError)} >= {"journal", "signal"}
        server.start()
        state.commit(held, ())
        assert state.signal.read_value("BTC")["id"] == "x"
        assert state.journal.read_value("BTC")["pending"]["id"] == "x"  # the journal follows the signal store
    finally:
        server.stop()
        for store in ("signal", "schedule", "partial"):
            use_persist_adapter(store, None)
