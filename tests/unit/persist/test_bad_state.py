"""SPEC §9.5 for every store and adapter: a value of the wrong shape, with non-numbers, or unreadable is
moved aside (never deleted), reported with ``PersistCorruptError`` naming both places, counts as empty,
and the pair keeps running."""
import json
import sqlite3

import pytest

import btk_core as bt
from btk_core import clock
from tests.helpers import T0, M, long_at_market, quiet_market, signal_table


def trade_after_bad_state(fake_clock, base_dir, risk=False):
    """A run that must open and close its trade whatever the stores held."""
    quiet_market({"BTC": {40: (100, 101.5, 99.9, 101)}})
    if risk:
        bt.add_risk(risk_name="book", validations=[lambda p: None])
    bt.add_strategy(strategy_name="s", interval="1m", risk_name="book" if risk else None,
                    get_signal=signal_table({("BTC", 10): long_at_market()}))
    fake_clock.now = T0 + 10 * M

    def sleep(seconds):
        fake_clock.now += int(seconds * 1000)
        if fake_clock.now >= T0 + 45 * M:
            bt.Live.stop("BTC", "s")
    clock.set_clock(fake_clock.now_ms, sleep)
    out = [r.action for r in bt.Live.run("BTC", strategy_name="s", exchange_name="ex")]
    assert out == ["opened", "closed"]


BAD_FILES = [
    ("signal/BTC_s/BTC.json", '{"id": "x"', "not valid JSON"),
    ("schedule/BTC_s/BTC.json", '[1, 2]', "not a valid signal row"),
    ("partial/BTC_s/levels.json", '[1, 2]', "levels must be a JSON object"),
    ("partial/BTC_s/levels.json", '{"x": {"profit_levels": ["ten"], "loss_levels": []}}', "profit_levels must be"),
    ("partial/BTC_s/levels.json", '{"x": 5}', "a partial entry must be an object"),
    ("journal/BTC_s/BTC.json", '{"symbol": "BTC", "strategy_name": "s", "exchange_name": "ex", "undelivered": 3}',
     "undelivered must be a list"),
    ("journal/BTC_s/BTC.json", '{"symbol": "BTC", "strategy_name": "s", "exchange_name": "ex", "last_call": "ten"}',
     "last_call must be an int"),
    ("risk/book/positions.json", '{"a": 1}', "positions must be a JSON list"),
    ("risk/book/positions.json", '[{"key": "x"}]', "position 0: KeyError"),
]


@pytest.mark.parametrize("relative, content, why", BAD_FILES)
def test_a_bad_state_file_is_moved_aside_reported_and_the_pair_runs(fake_clock, tmp_path, errors, relative,
                                                                   content, why):
    base_dir = tmp_path / "state"
    bt.set_config(CC_PERSIST_BASE_DIR=str(base_dir))
    path = base_dir / relative
    path.parent.mkdir(parents=True)
    path.write_text(content)
    trade_after_bad_state(fake_clock, base_dir, risk=relative.startswith("risk"))
    aside = list(path.parent.glob(f"{path.name}.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == content
    reported = [e for e in errors if isinstance(e, bt.PersistCorruptError)]
    assert len(reported) == 1 and why in str(reported[0]) and str(path) in str(reported[0])
    assert str(aside[0]) in str(reported[0])


def test_a_directory_where_a_state_file_should_be(fake_clock, tmp_path, errors):
    base_dir = tmp_path / "state"
    bt.set_config(CC_PERSIST_BASE_DIR=str(base_dir))
    path = base_dir / "signal" / "BTC_s" / "BTC.json"
    (path / "inside").mkdir(parents=True)
    trade_after_bad_state(fake_clock, base_dir)
    assert [p.is_dir() for p in path.parent.glob("BTC.json.corrupt-*")] == [True]
    assert any(isinstance(e, bt.PersistCorruptError) and "IsADirectoryError" in str(e) for e in errors)


def test_sqlite_moves_a_bad_row_aside(fake_clock, tmp_path, errors):
    from btk_core.persist.sqlite import sqlite_factory
    base_dir = tmp_path / "state"
    bt.set_config(CC_PERSIST_BASE_DIR=str(base_dir))
    for store in ("signal", "schedule", "risk", "partial"):
        bt.use_persist_adapter(store, sqlite_factory)
    sqlite_factory("BTC_s", str(base_dir / "signal")).wait_for_init(True)
    with sqlite3.connect(base_dir / "signal.sqlite") as db:
        db.execute("INSERT INTO state VALUES ('BTC_s', 'BTC', '{\"id\": ')")
    trade_after_bad_state(fake_clock, base_dir)
    with sqlite3.connect(base_dir / "signal.sqlite") as db:
        ids = [r[0] for r in db.execute("SELECT entity_id FROM state WHERE value = '{\"id\": '")]
    assert len(ids) == 1 and ids[0].startswith("BTC.corrupt-")
    assert any(isinstance(e, bt.PersistCorruptError) and ids[0] in str(e) for e in errors)


def test_redis_moves_a_bad_key_aside(fake_clock, tmp_path, errors, redis_server):
    import redis

    from btk_core.persist.redis import redis_factory
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    bt.set_config(CC_PERSIST_BASE_DIR=str(tmp_path / "state"))
    factory = redis_factory(redis_server.url, prefix="bad:")
    for store in ("signal", "schedule", "risk", "partial"):
        bt.use_persist_adapter(store, factory)
    client.set("bad:partial/BTC_s/levels", json.dumps({"x": {"profit_levels": "all"}}))
    trade_after_bad_state(fake_clock, tmp_path / "state")
    aside = [k.decode() for k in client.scan_iter("bad:partial/BTC_s/levels.corrupt-*")]
    assert len(aside) == 1 and json.loads(client.get(aside[0])) == {"x": {"profit_levels": "all"}}
    assert any(isinstance(e, bt.PersistCorruptError) and aside[0] in str(e) for e in errors)
