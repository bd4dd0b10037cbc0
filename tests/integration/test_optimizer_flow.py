"""The optimizer flow end to end: fake Ollama, generated module, its walker on the synthetic exchange."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import btk_core as bt
from flows.setup_loader import load_setup, setup_module_name
from tests.fakes.ollama import FakeOllama

SETUP = str(Path(__file__).resolve().parents[2] / "examples" / "optimizer_setup.py")


@pytest.fixture
def fake_ollama(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BTK_OLLAMA_MODEL", raising=False)
    with FakeOllama() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.host)
        sys.modules.pop(setup_module_name(SETUP), None)  # the registry was cleared: register again
        yield server


def test_optimizer_flow_generates_and_ranks(prefect_harness, fake_ollama, tmp_path):
    from prefect.artifacts import Artifact

    from flows.optimizer import optimizer_flow
    summary = optimizer_flow(SETUP, "llm-synthetic", "BTCUSDT", report_dir=str(tmp_path / "reports"))
    module = Path(summary["module"])
    assert summary["strategies"] == 8 and module.is_file()
    walker = summary["walker"]
    assert walker["symbol"] == "BTCUSDT" and walker["metric"] == "sharpe_ratio"
    assert len(walker["ranking"]) == 8 and walker["errors"] == 0
    assert walker["best_strategy"] == walker["ranking"][0]["strategy"]
    assert sum(row["total_signals"] for row in walker["ranking"]) > 0
    report = Path(walker["report"]).read_text()
    assert report.startswith(f"# Walker Comparison Report: {walker['walker_name']}")
    assert f"## Best Strategy: {walker['best_strategy']}" in report
    from flows.tasks import inline_images
    artifact = Artifact.get("btk-optimizer-llm-synthetic-btcusdt").data
    assert artifact == inline_images(report, str(Path(walker["report"]).parent))  # pictures embedded
    assert "](data:image/png;base64," in artifact
    assert Artifact.get("btk-optimizer-ranking-llm-synthetic-btcusdt") is not None
    assert list((tmp_path / "dump" / "strategy").iterdir()), "signals dump their LLM conversation"
    # the flow's tasks give exactly what the direct API gives (same data, same deterministic answers)
    load_setup(SETUP)
    assert module.read_text() == bt.Optimizer.get_code("BTCUSDT", optimizer_name="llm-synthetic")


def test_ask_llm_retries_a_server_error(prefect_harness, fake_ollama, tmp_path):
    from flows.optimizer import optimizer_flow
    fake_ollama.script.append((500, {"error": "model is loading"}))
    summary = optimizer_flow(SETUP, "llm-synthetic", "BTCUSDT", run_walker=False, module_dir=str(tmp_path))
    assert summary["walker"] is None and Path(summary["module"]).is_file()
    assert len(fake_ollama.chats()) == 8 + 1


def test_cli_optimize(prefect_harness, fake_ollama, tmp_path, capsys):
    from flows.cli import main
    assert main(["optimize", "--setup", SETUP, "--optimizer", "llm-synthetic", "--symbol", "BTCUSDT",
                 "--no-walker", "--module-dir", str(tmp_path / "gen")]) == 0
    assert "generated 8 strategies" in capsys.readouterr().out
    assert main(["optimize", "--setup", SETUP, "--optimizer", "nope", "--symbol", "BTCUSDT"]) == 2
    assert capsys.readouterr().err.strip() == "btk optimize: optimizer 'nope' not found"


def test_btk_optimize_without_ollama_fails_in_seconds_with_one_line(tmp_path):
    """The command as a user runs it with no model server: two quick retries, then one line naming the host."""
    import os
    import socket
    import subprocess
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{s.getsockname()[1]}"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OLLAMA_HOST": host, "PYTHONPATH": str(root), "PREFECT_HOME": str(tmp_path / "prefect")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "flows.cli", "optimize", "--setup", SETUP, "--optimizer",
                           "llm-synthetic", "--symbol", "BTCUSDT", "--module-dir", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert done.stderr.startswith(f"btk optimize: cannot reach Ollama at {host}")
    assert "Traceback" not in done.stdout + done.stderr and elapsed < 20


def test_an_unreachable_ollama_is_not_retried_by_the_flow():
    from btk_core.errors import wrap_user_error
    from btk_core.optimizer.llm import OllamaUnreachableError
    from flows.optimizer import is_transient
    assert not is_transient(wrap_user_error(OllamaUnreachableError("cannot reach Ollama at x"), where="get_prompt"))
