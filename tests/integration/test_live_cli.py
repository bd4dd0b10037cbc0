"""``btk live`` as a user runs it: the command killed with SIGKILL and started again at once, with no
Prefect server and with a real ``prefect server``; Ctrl-C; a second run of the same pair.

The setup (``tests/fixtures/live_cli_setup.py``) runs simulated time 60x faster than the wall clock on a
timeline kept in its state folder, so a restarted process continues it and catches up on what it missed.
Its one position opens at the first tick from 00:15; the killed and restarted run must close it exactly where
an uninterrupted run would (checked against a literal reading of the synthetic candles after it opened).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.prefect_server import post, wait_for
from tests.prefect_server import prefect_server as running_server

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "tests" / "fixtures" / "live_cli_setup.py"
BTK = [sys.executable, "-m", "flows.cli", "live", "--setup", str(SETUP), "--symbol", "BTCUSDT", "--strategy", "once",
       "--exchange", "syn"]


def start(state: Path, prefect_home: Path, api_url: str | None = None, log: str = "out.log") -> subprocess.Popen:
    env = {**os.environ, "BTK_TEST_STATE": str(state), "PREFECT_HOME": str(prefect_home), "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return subprocess.Popen([*BTK, "--report-dir", str(state / "dump")], cwd=ROOT, env=env,
                            stdout=open(state / log, "w"), stderr=subprocess.STDOUT)


def events(state: Path) -> list[dict]:
    path = state / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def interrupt(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=60)


def closes(state: Path) -> list[tuple]:
    return [(e["id"], e["reason"], e["close_timestamp"], e["price"], e["price_open"])
            for e in events(state) if e["kind"] == "closed"]


def uninterrupted_close(row: dict) -> tuple:
    """Where the adopted position closes in a run nobody killed: the first closed 1m candle after it opened
    whose low reaches its stop loss or whose high reaches its take profit (stop loss first, SPEC §5.2), read
    literally from the synthetic candles."""
    from btk_core.exchanges import synthetic_candles
    start = row["pending_at"] - row["pending_at"] % 60_000
    ts, _o, high, low, _c, _v = synthetic_candles("BTCUSDT", start // 60_000, row["minute_estimated_time"] + 1)
    for t, h, lo in zip(ts.tolist(), high.tolist(), low.tolist()):
        if t < row["pending_at"]:
            continue  # the candle the position opened in
        if lo <= row["price_stop_loss"]:
            return row["id"], "stop_loss", t + 60_000, row["price_stop_loss"], row["price_open"]
        if h >= row["price_take_profit"]:
            return row["id"], "take_profit", t + 60_000, row["price_take_profit"], row["price_open"]
    raise AssertionError("the position would expire; the test expects a stop or a take profit")


def kill_and_restart(tmp_path: Path, api_url: str | None) -> None:
    """Kill ``btk live`` with SIGKILL while its position is open, start it again at once, and check that it
    adopts the position within a tick and closes it where an uninterrupted run would have."""
    crashy = tmp_path / "crashy"
    crashy.mkdir()
    first = start(crashy, tmp_path / "prefect-crashy", api_url, "first.log")
    second = None
    try:
        wait_for(lambda: events(crashy), 120, "the position to open")
        time.sleep(3)  # the position is open and being evaluated
        row = json.loads((crashy / "data" / "signal" / "BTCUSDT_once" / "BTCUSDT.json").read_text())
        servers = children(first.pid)
        first.kill()
        first.wait()
        if api_url is None:  # the temporary API server dies with the CLI, never orphaned
            wait_for(lambda: not any(alive(pid) for pid in servers), 15, "the temporary server to end")
        started = time.monotonic()
        second = start(crashy, tmp_path / "prefect-crashy", api_url, "second.log")
        log = crashy / "second.log"
        wait_for(lambda: "adopted open position long pos-1" in log.read_text(), 120, "the restart to adopt")
        adopt_seconds = time.monotonic() - started
        wait_for(lambda: closes(crashy), 120, "the restarted run to close")
        assert closes(crashy) == [uninterrupted_close(row)]
        assert interrupt(second) == 130
        assert "halted by SIGINT" in log.read_text() and "Completed" in log.read_text()
        assert adopt_seconds < 60
        if api_url is None:
            assert "marked 1 earlier run(s) of BTCUSDT once Crashed" in log.read_text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()


def test_a_killed_btk_live_restarts_at_once_without_a_server(tmp_path):
    kill_and_restart(tmp_path, None)


def test_a_second_btk_live_of_the_pair_fails_at_once(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    holder = start(state, tmp_path / "prefect")
    try:
        wait_for(lambda: "live BTCUSDT once on syn" in (state / "out.log").read_text(), 120, "the run to start")
        env = {**os.environ, "BTK_TEST_STATE": str(state), "PYTHONPATH": str(ROOT)}
        second = subprocess.run(BTK, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip().count("\n") == 0
        assert f"live BTCUSDT/once is already running (pid {holder.pid} on " in second.stderr
        assert interrupt(holder) == 130
    finally:
        if holder.poll() is None:
            holder.kill()


@pytest.fixture
def prefect_server(tmp_path):
    """A real ``prefect server`` on a free port of 127.0.0.1."""
    with running_server(tmp_path / "prefect-server") as url:
        yield url


def test_a_killed_btk_live_restarts_at_once_with_a_prefect_server(tmp_path, prefect_server):
    kill_and_restart(tmp_path, prefect_server)
    states = sorted(run["state"]["type"] for run in post(f"{prefect_server}/flow_runs/filter", {}))
    assert states == ["COMPLETED", "CRASHED"]  # the killed run is not left Running
    artifacts = post(f"{prefect_server}/artifacts/filter", {"artifacts": {"key": {"any_": ["btk-live-btcusdt-once"]}}})
    latest = max(artifacts, key=lambda a: a["created"])["data"]
    assert "# Live BTCUSDT once on syn" in latest and "closed long BTCUSDT once pos-1 by stop_loss" in latest
    assert "**Orders:** paper, 2 orders, 1 round trips, 0 mismatch(es)" in latest
    ledgers = post(f"{prefect_server}/artifacts/filter", {"artifacts": {"key": {"any_": ["btk-ledger-btcusdt-once"]}}})
    ledger = max(ledgers, key=lambda a: a["created"])["data"]  # paper trading, the default, shows its ledger
    assert "# Ledger BTCUSDT once" in ledger and "Broker: paper. Orders: 2 (2 closed). Round trips: 1" in ledger
    assert "## Balances" in ledger and "| BTC | 0 |" in ledger and "## Fills" in ledger
    def position_events():
        found = post(f"{prefect_server}/events/filter", {
            "filter": {"event": {"prefix": ["btk.position."]}, "occurred": {"since": "2020-01-01T00:00:00Z"}},
            "limit": 50})["events"]
        return found if {e["event"] for e in found} >= {"btk.position.opened", "btk.position.closed"} else None
    found = wait_for(position_events, 30, "the opened and closed events")
    kinds = {(e["event"], e["resource"]["prefect.resource.id"]) for e in found}
    assert kinds == {("btk.position.opened", "btk.pair.BTCUSDT.once"), ("btk.position.closed", "btk.pair.BTCUSDT.once")}
    closed = next(e for e in found if e["event"] == "btk.position.closed")
    assert closed["payload"]["delivery_id"] == "pos-1:closed" and closed["payload"]["close_reason"] == "stop_loss"


def test_serve_creates_the_zombie_automation_once(prefect_server):
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PYTHONPATH": str(ROOT)}
    for _ in range(2):
        subprocess.run([sys.executable, str(ROOT / "deployments" / "automations.py")], env=env, check=True,
                       capture_output=True, timeout=120)
    automations = post(f"{prefect_server}/automations/filter", {})
    assert [a["name"] for a in automations] == ["btk: crash zombie flow runs"]
    assert automations[0]["trigger"]["posture"] == "Proactive"
