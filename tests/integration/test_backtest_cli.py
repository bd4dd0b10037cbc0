"""``btk backtest`` as a user runs it: data that cannot work fails in seconds with one line, and Ctrl-C or
SIGTERM stops a running backtest at once (exit 130 / 143, the flow run Cancelled, nothing cached)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def btk(*args, state: Path, env=None, **kw) -> subprocess.Popen:
    env = env or {**os.environ, "BTK_TEST_STATE": str(state), "PYTHONPATH": str(ROOT),
                  "PREFECT_HOME": str(state / "prefect")}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_running_backtest_stops_at_once(tmp_path, signum, code):
    proc = btk("backtest", "--setup", str(ROOT / "tests" / "fixtures" / "slow_setup.py"), "--symbols", "BTCUSDT",
               "--strategies", "slow", "--exchange", "syn", "--frame", "year", "--report-dir", str(tmp_path / "dump"),
               state=tmp_path)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    time.sleep(1)
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == code, err[-2000:]
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert took < 10  # the flow's own teardown included
    assert not (tmp_path / "dump" / "backtest").exists()  # nothing half-done was reported


@pytest.fixture
def exported(tmp_path):
    """A week of 1m candles as people export them: ``Date,Open,High,Low,Close,Volume`` with ISO dates."""
    import pandas as pd

    from btk_core.exchanges import synthetic_candles
    start = 1717200000000 - 60 * 60_000  # an hour of history before June 1st
    cols = synthetic_candles("MYCOIN", start // 60_000, 8 * 1440)
    frame = pd.DataFrame({"Date": pd.to_datetime(cols[0], unit="ms", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "Open": cols[1], "High": cols[2], "Low": cols[3], "Close": cols[4], "Volume": cols[5]})
    (tmp_path / "data" / "MYCOIN").mkdir(parents=True)
    frame.to_csv(tmp_path / "data" / "MYCOIN" / "1m.csv", index=False)
    return tmp_path / "data"


def files_backtest(tmp_path, data, symbol, frame):
    env = {"BTK_TEST_DATA": str(data)}
    proc = btk("backtest", "--setup", str(ROOT / "tests" / "fixtures" / "files_setup.py"), "--symbols", symbol,
               "--strategies", "momentum", "--exchange", "files", "--frame", frame, "--report-dir",
               str(tmp_path / "dump"), state=tmp_path, env={**os.environ, **env, "BTK_TEST_STATE": str(tmp_path),
                                                            "PYTHONPATH": str(ROOT),
                                                            "PREFECT_HOME": str(tmp_path / "prefect")})
    return proc.communicate(timeout=300), proc.returncode


def test_an_exported_csv_backtests_without_editing(tmp_path, exported):
    (out, err), code = files_backtest(tmp_path, exported, "MYCOIN", "june")
    assert code == 0, err[-3000:]
    import re
    trades = [int(m.group(1)) for m in re.finditer(r"^momentum\s+MYCOIN\s+(\d+)\s", out, re.M)]
    assert trades and trades[0] > 0, out


@pytest.mark.parametrize("symbol, frame, says", [
    ("NOPE", "june", "no candle file for symbol='NOPE'"),
    ("MYCOIN", "2031", "no 1m candles for symbol=MYCOIN on exchange=files in frame=2031"),
])
def test_an_empty_or_misnamed_data_set_fails_in_seconds_in_one_line(tmp_path, exported, symbol, frame, says):
    started = time.monotonic()
    (out, err), code = files_backtest(tmp_path, exported, symbol, frame)
    assert code != 0 and time.monotonic() - started < 30
    assert err.strip().count("\n") == 0 and says in err, err
