#!/usr/bin/env python3
"""Sweep scaling, side by side in one run (issue: sweeps on a real Dask cluster): 64 combinations of the
reference SMA cross in batch form over 1 year of 1m candles.

- ``single``: one combination's backtest in this process (median of 3) and 64 x that;
- ``dask 1 worker`` / ``dask 2 workers``: ``btk sweep --task-runner dask`` against a local ``dask scheduler``
  with one or two ``dask worker`` processes (one thread each) and a ``prefect server``, wall time of the command;
- per-task overhead: the same sweep on threads with 1 and with 8 combinations per task;
- ``vectorbt``: the same 64-combination grid by broadcasting (``MA.run_combs``-style, one ``from_signals``
  over all columns, TP/SL stops, no 24 h exit), for reference.

    python benchmarks/bench_sweep.py [--size 1y]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import _peers  # noqa: E402
from tests.prefect_server import prefect_server  # noqa: E402

SETUP = str(ROOT / "benchmarks" / "sweep_setup.py")
BIN = Path(sys.executable).parent


def run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - started


def single(env: dict[str, str]) -> float:
    code = ("import time, statistics, btk_core as bt; from flows.setup_loader import load_setup; "
            f"load_setup({SETUP!r}); name = bt.strategy_variants('sma_grid')[21]; ts = []\n"
            "for _ in range(4):\n    t = time.perf_counter(); list(bt.Backtest.run('BENCH', strategy_name=name, "
            "exchange_name='bench', frame_name='bench')); ts.append(time.perf_counter() - t)\n"
            "print(statistics.median(ts[1:]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def sweep(env: dict[str, str], home: Path, *extra: str) -> float:
    return run([sys.executable, "-m", "flows.cli", "sweep", "--setup", SETUP, "--strategy", "sma_grid", "--symbols",
                "BENCH", "--exchange", "bench", "--frame", "bench", "--report-dir", str(home / "dump"), *extra],
               {**env, "PREFECT_HOME": str(home)})


def on_cluster(env: dict[str, str], tmp: Path, workers: int) -> float:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for k in range(workers):
            procs.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                           "--no-dashboard"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL,
                                          env={**env, "PREFECT_HOME": str(tmp / f"w{workers}-{k}")}))
        from distributed import Client
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        return sweep(env, tmp / f"dask{workers}", "--task-runner", "dask", "--dask-address", address,
                     "--batch-size", "4")
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def vectorbt_grid(data_path: str) -> float | str:
    code = r"""
import sys, time, numpy as np, pandas as pd, pyarrow.parquet as pq, vectorbt as vbt
d = pq.read_table(sys.argv[1]).to_pandas()
close = pd.Series(d["close"].to_numpy(), index=pd.to_datetime(d["timestamp"], unit="ms"))
c5 = close.resample("5min").last()
t = time.perf_counter()
pairs = [(f, s) for f in [5, 10, 15, 20] for s in [30, 60, 90, 120]]  # the product, column by column
fast = vbt.MA.run(c5, window=[f for f, _ in pairs], short_name="fast")
slow = vbt.MA.run(c5, window=[s for _, s in pairs], short_name="slow")
entries = fast.ma_crossed_above(slow)
widths = [0.8, 1.0, 1.5, 2.0]
cols = []
for w in widths:
    pf = vbt.Portfolio.from_signals(c5, entries, None, sl_stop=w / 100, tp_stop=w / 100, freq="5min")
    cols.append(pf.total_return())
print(time.perf_counter() - t, sum(len(c) for c in cols))
"""
    done = subprocess.run([sys.executable, "-c", code, data_path], capture_output=True, text=True)
    if done.returncode != 0:
        return "not installed" if "No module named 'vectorbt'" in done.stderr else done.stderr.strip()[-200:]
    seconds, columns = done.stdout.split()
    return float(seconds) if int(columns) == 64 else f"{columns} columns"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1y", choices=list(_peers.SIZES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        data = tmp / "candles.parquet"
        code = ("import sys, pyarrow as pa, pyarrow.parquet as pq; from benchmarks import _peers; "
                "cols = _peers.load('make_data').make_candles(int(sys.argv[2])); "
                "pq.write_table(pa.table({k: pa.array(v) for k, v in cols.items()}), sys.argv[1])")
        subprocess.run([sys.executable, "-c", code, str(data), str(_peers.SIZES[args.size])], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        base = {**os.environ, "PYTHONPATH": str(ROOT), "BTK_BENCH_DATA": str(data)}
        with prefect_server(tmp / "server") as api:
            env = {**base, "PREFECT_API_URL": api}
            one = single(env)
            threads_1 = sweep(env, tmp / "t1", "--batch-size", "1")
            threads_8 = sweep(env, tmp / "t8", "--batch-size", "8")
            dask_1 = on_cluster(env, tmp, 1)
            dask_2 = on_cluster(env, tmp, 2)
        vbt = vectorbt_grid(str(data))
    rows = {"one backtest (in process)": one, "64 x one backtest": 64 * one,
            "btk sweep, threads, 1 combination per task (64 tasks)": threads_1,
            "btk sweep, threads, 8 combinations per task (8 tasks)": threads_8,
            "btk sweep, dask, 1 worker process": dask_1, "btk sweep, dask, 2 worker processes": dask_2,
            "vectorbt, same grid broadcast (reference)": vbt}
    print(f"\n64 combinations x {args.size} of 1m candles ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs)\n")
    print("| run | seconds |\n| --- | ---: |")
    for name, value in rows.items():
        print(f"| {name} | {value:.2f} |" if isinstance(value, float) else f"| {name} | {value} |")
    print(f"\nper-task overhead: {(threads_1 - threads_8) / (64 - 8) * 1000:.0f} ms "
          "((64-task sweep - 8-task sweep) / 56 extra tasks); speed-up 2 workers vs 1: "
          f"{dask_1 / dask_2:.2f}x")
    print(json.dumps({k: v for k, v in rows.items()}))


if __name__ == "__main__":
    main()
