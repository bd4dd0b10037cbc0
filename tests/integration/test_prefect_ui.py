"""The Prefect UI as a user sees it: a real ``prefect server``, ``btk backtest`` and ``btk walker`` run as commands
against it, and every markdown artifact opened in headless Chromium, where each embedded picture must load
(``naturalWidth > 0``); ``btk live``'s paper ledger opened the same way. Screenshots go to ``dump/ui-screenshots/`` (git-ignored) for a human to look at.

Also checked through the API, as the UI shows them: each flow run has its own artifacts (the walker's too, not
only a subflow's), task runs are named after their pairs, the log has one line per pair with its figures, and
table artifacts hold no 15-digit floats.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import Chromium, chromium_path
from tests.prefect_server import post
from tests.prefect_server import prefect_server as running_server

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "fixtures" / "small_setup.py"
DEMO = ROOT / "examples" / "demo_setup.py"
LIVE = ROOT / "tests" / "fixtures" / "live_cli_setup.py"
SCREENSHOTS = ROOT / "dump" / "ui-screenshots"

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install chromium)")


def btk(api: str, home: Path, *args: str) -> str:
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A server with one ``btk backtest`` run (a portfolio strategy included) and one ``btk walker`` run."""
    tmp = tmp_path_factory.mktemp("ui")
    with running_server(tmp / "server") as api:
        btk(api, tmp / "cli", "backtest", "--setup", str(SMALL), "--symbols", "BTCUSDT,ETHUSDT",
            "--strategies", "trend,swing", "--exchange", "syn", "--frame", "day", "--report-dir", str(tmp / "dump"))
        btk(api, tmp / "cli", "walker", "--setup", str(DEMO), "--walker", "compare", "--symbols", "BTCUSDT",
            "--report-dir", str(tmp / "dump"))
        flow_runs = post(f"{api}/flow_runs/filter", {})
        yield api, {run["flow_id"]: run for run in flow_runs}, post(f"{api}/flows/filter", {})


def artifacts_of(api: str, flow_run_id: str) -> list[dict]:
    return post(f"{api}/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})


def test_every_picture_of_every_artifact_loads_in_a_browser(runs):
    api, by_flow, _ = runs
    pictures = []
    for run in by_flow.values():
        pictures += [a for a in artifacts_of(api, run["id"]) if a["type"] == "markdown" and "](data:image/png" in a["data"]]
    keys = {a["key"].split("-")[1] for a in pictures}
    assert keys >= {"backtest", "heatmap", "walker"}, keys
    base = api.removesuffix("/api")
    with Chromium() as browser:
        for artifact in pictures:
            expected = artifact["data"].count("](data:image/png")
            page = browser.open(f"{base}/artifacts/artifact/{artifact['id']}")
            page.wait_for(f"document.querySelectorAll('img[src^=\"data:image/png\"]').length >= {expected} && "
                          "[...document.images].every(i => i.complete)")
            widths = page.evaluate("[...document.querySelectorAll('img[src^=\"data:image/png\"]')]"
                                   ".map(i => i.naturalWidth)")
            page.screenshot(SCREENSHOTS / f"{artifact['key']}.png")
            page.close()
            assert len(widths) == expected and all(w > 0 for w in widths), (artifact["key"], widths)
            assert "](" not in page_text_links(artifact["data"]), artifact["key"]  # no relative picture paths left


def page_text_links(markdown: str) -> str:
    """Markdown image links that are not embedded data (what a browser could not load from the UI)."""
    return " ".join(re.findall(r"!\[[^\]]*\]\((?!data:)[^)]*\)", markdown))


def test_each_run_the_user_opens_has_its_artifacts_and_named_tasks(runs):
    api, by_flow, flows = runs
    names = {f["id"]: f["name"] for f in flows}
    runs_by_flow = {names[flow_id]: run for flow_id, run in by_flow.items()}
    assert set(runs_by_flow) >= {"btk-backtest", "btk-walker"}
    for flow_name, run in runs_by_flow.items():
        assert artifacts_of(api, run["id"]), f"the {flow_name} run shows no artifacts"
    tasks = {t["name"] for t in post(f"{api}/task_runs/filter", {})}
    assert {"backtest BTCUSDT trend", "backtest ETHUSDT trend", "portfolio BTCUSDT swing, ETHUSDT swing",
            "heatmap trend", "heatmap swing", "walker compare BTCUSDT"} <= tasks, tasks
    logs = [entry["message"] for entry in post(f"{api}/logs/filter", {"limit": 200})]
    pair_lines = [m for m in logs if re.match(r"(trend|swing) (BTCUSDT|ETHUSDT): \d+ trades, compounded return", m)]
    assert len(pair_lines) == 4, pair_lines
    assert all("max drawdown" in m and "sharpe" in m for m in pair_lines)


def test_table_artifacts_hold_numbers_rounded_for_reading(runs):
    api, by_flow, _ = runs
    tables = [a for run in by_flow.values() for a in artifacts_of(api, run["id"]) if a["type"] == "table"]
    assert tables
    for artifact in tables:
        rows = json.loads(artifact["data"]) if isinstance(artifact["data"], str) else artifact["data"]
        floats = [v for row in rows for v in row.values() if isinstance(v, float)]
        assert all(round(v, 4) == v for v in floats), artifact["key"]


def test_the_paper_ledger_of_btk_live_reads_in_a_browser(runs, tmp_path):
    """``btk live`` trades on paper by default: its ledger artifact (balances, orders, fills, round trips) is on
    the server and reads as tables in the UI."""
    import signal
    import time

    from tests.prefect_server import wait_for
    api = runs[0]
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "BTK_TEST_STATE": str(tmp_path)}
    with open(tmp_path / "live.log", "w") as log:
        live = subprocess.Popen([sys.executable, "-m", "flows.cli", "live", "--setup", str(LIVE), "--symbol",
                                 "BTCUSDT", "--strategy", "once", "--exchange", "syn", "--report-dir",
                                 str(tmp_path / "dump")], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            events = tmp_path / "events.jsonl"
            wait_for(lambda: events.exists() and '"closed"' in events.read_text(), 180, "the paper position to close")
            time.sleep(1)
            live.send_signal(signal.SIGINT)
            assert live.wait(timeout=60) == 130
        finally:
            if live.poll() is None:
                live.kill()
    ledgers = post(f"{api}/artifacts/filter", {"artifacts": {"key": {"any_": ["btk-ledger-btcusdt-once"]}}})
    latest = max(ledgers, key=lambda a: a["created"])
    with Chromium() as browser:
        page = browser.open(f"{api.removesuffix('/api')}/artifacts/artifact/{latest['id']}")
        page.wait_for("document.body.innerText.includes('Round trips') && document.querySelectorAll('table').length >= 4")
        text = page.evaluate("document.body.innerText")
        page.screenshot(SCREENSHOTS / "btk-ledger-btcusdt-once.png")
        page.close()
    assert "Ledger BTCUSDT once" in text and "Broker: paper. Orders: 2 (2 closed). Round trips: 1" in text
    assert "Balances" in text and "Fills" in text
