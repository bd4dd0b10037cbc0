"""``btk live --broker ccxt`` as a user runs it, against the fake Binance over HTTP: the command places and
fills a real entry, is killed with SIGKILL while the position is open, restarts, closes the position with a
real exit, and stops on Ctrl-C. The venue and btk's ledger agree; no order twice. Without credentials, or with
a broker the exchange cannot serve, the command fails in seconds with one line."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from btk_core.broker import client_order_id
from btk_core.exchanges import synthetic_candles
from tests.fakes.binance import FakeBinance
from tests.prefect_server import wait_for

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "tests" / "fixtures" / "live_broker_setup.py"
BTK = [sys.executable, "-m", "flows.cli", "live", "--setup", str(SETUP), "--symbol", "BTC/USDT", "--strategy", "once",
       "--exchange", "venue"]


def report_dir(state: Path) -> list[str]:
    return ["--report-dir", str(state / "dump")]


def klines(symbol, step, start, end):
    if step != 60_000:
        return []
    ts, o, h, l, c, v = synthetic_candles("BTCUSDT", start // step, (end - start) // step)
    return [list(r) for r in zip(ts.tolist(), o.tolist(), h.tolist(), l.tolist(), c.tolist(), v.tolist())]


def start(state: Path, venue: str, *extra: str, credentials: bool = True, log: str = "out.log") -> subprocess.Popen:
    env = {**os.environ, "BTK_TEST_STATE": str(state), "BTK_FAKE_VENUE": venue, "PYTHONPATH": str(ROOT),
           "PREFECT_HOME": str(state / "prefect")}
    env.pop("PREFECT_API_URL", None)
    if credentials:
        env.update(BTK_CCXT_API_KEY="key-1", BTK_CCXT_SECRET="not-in-any-file")
    return subprocess.Popen([*BTK, *report_dir(state), *extra], cwd=ROOT, env=env, stdout=open(state / log, "w"),
                            stderr=subprocess.STDOUT)


def events(state: Path) -> list[dict]:
    path = state / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def seen(state: Path, kind: str, proc: subprocess.Popen, log: str) -> bool:
    """Has ``kind`` happened? Fails at once, with the command's output, when the command has ended."""
    assert proc.poll() is None, (state / log).read_text()[-2000:]
    return any(e["kind"] == kind for e in events(state))


def test_btk_live_trades_on_the_venue_through_a_kill(tmp_path):
    with FakeBinance(klines) as server:
        first = start(tmp_path, server.url, "--broker", "ccxt")
        second = None
        try:
            wait_for(lambda: seen(tmp_path, "opened", first, "out.log"), 120, "the position to open")
            time.sleep(1)
            first.kill()
            first.wait()
            second = start(tmp_path, server.url, "--broker", "ccxt", log="second.log")
            wait_for(lambda: seen(tmp_path, "closed", second, "second.log"), 180, "the position to close")
            time.sleep(1)
            second.send_signal(2)
            assert second.wait(timeout=60) == 130
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
        orders = [(o["clientOrderId"], o["side"], o["type"], o["status"]) for o in server.account.orders]
        assert orders == [(client_order_id("BTC/USDT", "once", "pos-1:opened"), "BUY", "MARKET", "FILLED"),
                          (client_order_id("BTC/USDT", "once", "pos-1:closed"), "SELL", "MARKET", "FILLED")]
        assert server.account.orders[0]["origQty"] == server.account.orders[1]["origQty"]
        assert server.account.balances["BTC"] == 0
    log = (tmp_path / "second.log").read_text()
    assert "orders: ccxt:binance" in log and "adopted open position long pos-1" in log
    assert "after 1 closed trade(s); orders on ccxt:binance: 2 order(s), 0 mismatch(es), balance " in log
    [ledger_file] = (tmp_path / "dump" / "ledger").glob("*.md")  # written when the command ended
    assert str(ledger_file) in log and "# Ledger BTC/USDT once" in ledger_file.read_text()
    assert list((tmp_path / "dump" / "live").glob("*.md"))
    [book_file] = (tmp_path / "data" / "ledger" / "desk").glob("BTC_USDT--once*.json")  # a safe name of BTC/USDT
    book = json.loads(book_file.read_text())
    assert sorted((o["client_id"], o["status"]) for o in book["orders"].values()) == sorted(
        (cid, "closed") for cid, *_ in orders)
    assert not book["mismatches"]
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".db")
    assert "not-in-any-file" not in written


def test_btk_live_refuses_a_broker_it_cannot_use_in_one_line(tmp_path):
    with FakeBinance(klines) as server:
        proc = start(tmp_path, server.url, "--broker", "ccxt", credentials=False)
        assert proc.wait(timeout=60) == 2
        out = (tmp_path / "out.log").read_text().strip()
        assert out == ("btk live: --broker ccxt needs BTK_CCXT_API_KEY and BTK_CCXT_SECRET in the environment "
                       "(or use --broker ccxt-dry / paper)")
        proc = start(tmp_path, server.url, "--broker", "paper", "--stake", "0", log="stake.log")
        assert proc.wait(timeout=60) == 2
        assert (tmp_path / "stake.log").read_text().strip() == "btk live: stake_percentage must be in (0, 100], got 0.0"
        assert server.account.created == []
