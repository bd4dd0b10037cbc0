"""Crash safety for real (SPEC §9.3): kill -9 a live run at random moments, restart it, and compare.

After every kill each stored value must parse (never torn); at the end the trades recorded by
``on_close`` (idempotent by id) must equal those of an uninterrupted run on the same candles.
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

import pytest

CHILD = Path(__file__).with_name("live_crash_child.py")
ROOT = Path(__file__).resolve().parents[2]
START = 1717200000000  # 2024-06-01
END = START + int(os.environ.get("BTK_CRASH_DAYS", "3")) * 24 * 60 * 60_000
KILLS = int(os.environ.get("BTK_CRASH_KILLS", "30"))


def start_child(state: Path, adapter: str, extra: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(state), adapter, str(START), str(END), *extra],
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
            with sqlite3.connect(db) as conn:
                for (value,) in conn.execute("SELECT value FROM state"):
                    json.loads(value)
    else:
        import redis
        client = redis.Redis.from_url(extra[0])
        for key in client.scan_iter("crash:*"):
            json.loads(client.get(key))


def trades(state: Path) -> list:
    path = state / "trades.json"
    return json.loads(path.read_text()) if path.exists() else []


def run_with_kills(state: Path, adapter: str, extra: list[str], rng: random.Random) -> int:
    kills = 0
    while True:
        proc = start_child(state, adapter, extra)
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


def crash_test(tmp_path: Path, adapter: str, extra: list[str] = ()) -> None:
    calm, crashy = tmp_path / "calm", tmp_path / "crashy"
    calm.mkdir(), crashy.mkdir()
    extra = list(extra)
    if adapter == "redis":
        extra_calm = [extra[0].rsplit("/", 1)[0] + "/1"]
        import redis
        redis.Redis.from_url(extra_calm[0]).flushdb()
        redis.Redis.from_url(extra[0]).flushdb()
    else:
        extra_calm = extra
    proc = start_child(calm, adapter, extra_calm)
    assert proc.wait(timeout=300) == 0
    expected = trades(calm)
    assert len(expected) >= 20
    kills = run_with_kills(crashy, adapter, extra, random.Random(adapter))
    assert kills >= KILLS
    assert trades(crashy) == expected


def test_file_adapter_survives_kill_9(tmp_path):
    crash_test(tmp_path, "file")


def test_sqlite_adapter_survives_kill_9(tmp_path):
    crash_test(tmp_path, "sqlite")


def test_redis_adapter_survives_kill_9(tmp_path, redis_server):
    crash_test(tmp_path, "redis", [redis_server.url])
