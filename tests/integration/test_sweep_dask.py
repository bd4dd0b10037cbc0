"""A sweep on a real distributed engine: a ``prefect server``, a ``dask scheduler`` and two ``dask worker``
processes talking TCP on 127.0.0.1, driven by ``btk sweep --task-runner dask --dask-address ...`` exactly as a
user would against a remote cluster; the results must equal the thread runner's."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.prefect_server import prefect_server, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "examples" / "demo_setup.py")
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def sweep(tmp: Path, name: str, env: dict[str, str], *runner: str) -> dict:
    report_dir = tmp / name
    done = subprocess.run([sys.executable, "-m", "flows.cli", "sweep", "--setup", DEMO, "--strategy", "sma_grid",
                           "--symbols", "BTCUSDT,ETHUSDT", "--exchange", "synthetic", "--frame", "june-2024",
                           "--batch-size", "2", "--report-dir", str(report_dir), *runner],
                          cwd=ROOT, env={**env, "PREFECT_HOME": str(tmp / f"{name}-home")}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((report_dir / "sweep" / "sma_grid_june-2024.json").read_text())


@pytest.fixture
def cluster(tmp_path):
    """(prefect API URL, dask scheduler address, worker logs, env)."""
    with ExitStack() as stack:
        api = stack.enter_context(prefect_server(tmp_path / "server"))
        env = {**os.environ, "PREFECT_API_URL": api, "PYTHONPATH": str(ROOT)}
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        scheduler = start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                           "--no-dashboard"], tmp_path / "scheduler.log", env)
        stack.callback(stop, scheduler)
        logs = []
        for k in range(2):
            logs.append(tmp_path / f"worker-{k}.log")
            worker = start([str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                            "--no-dashboard", "--name", f"w{k}"], logs[-1],
                           {**env, "PREFECT_HOME": str(tmp_path / f"worker-{k}-home")})
            stack.callback(stop, worker)
        from distributed import Client
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield api, address, logs, env


def test_a_sweep_on_a_dask_cluster_equals_the_thread_runner(cluster, tmp_path):
    api, address, logs, env = cluster
    on_dask = sweep(tmp_path, "dask", env, "--task-runner", "dask", "--dask-address", address)
    on_threads = sweep(tmp_path, "threads", env)
    key = lambda row: (row["strategy"], row["symbol"])
    assert sorted(on_dask["rows"], key=key) == sorted(on_threads["rows"], key=key)
    assert on_dask["ranking"] == on_threads["ranking"] and len(on_dask["ranking"]) == 16
    # both workers ran backtests (each task loads the setup by path and rebuilds the registry itself)
    wait_for(lambda: all("Finished in state Completed()" in log.read_text() for log in logs), 30, "worker logs")
