#!/usr/bin/env python3
"""btk against the tools a user would pick instead, on the same data, in the same run (issue: performance).

Every engine runs in its own process with the peers' timing harness (1 cold + N warm runs, median) on
make_data.py candles generated into a temporary directory. Prints, per size, a table of median warm
seconds, cold (first-run) seconds, candles/second, trades, total return and peak RSS, and btk's speed ratio
to each peer.

    python benchmarks/bench_vs_peers.py --sizes 1m,1y [--repeats 3]
Peers are optional (`pip install 'btk[bench]'`); a missing one is reported and skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import _peers  # noqa: E402

ENGINES = {  # name: (script, extra args, largest size it is run on)
    "btk": (str(ROOT / "benchmarks" / "bench_btk_peer.py"), [], "4y"),
    "btk batch": (str(ROOT / "benchmarks" / "bench_btk_peer.py"), ["--batch"], "4y"),
    "btk rows": (str(ROOT / "benchmarks" / "bench_btk_peer.py"), ["--rows"], "4y"),
    "btk batch rows": (str(ROOT / "benchmarks" / "bench_btk_peer.py"), ["--batch", "--rows"], "4y"),
    "vectorbt": ("bench_vectorbt.py", [], "4y"),
    "backtesting.py": ("bench_backtesting.py", [], "4y"),
    "backtrader": ("bench_backtrader.py", ["--repeats", "1"], "1y"),
    "python loop": ("bench_python_loop.py", [], "4y"),
    "harness only": (str(ROOT / "benchmarks" / "bench_harness_only.py"), [], "4y"),
}
ORDER = ["1m", "1y", "4y"]
WRAPPER = ("import json, resource, runpy, sys; sys.argv = sys.argv[1:]; "
           "runpy.run_path(sys.argv[0], run_name='__main__'); "
           "print(json.dumps({'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")


def run_engine(script: str, extra: list[str], data: Path, repeats: int) -> dict | str:
    path = script if os.path.isabs(script) else str(_peers.peers_dir() / script)
    env = {**os.environ, "PYTHONPATH": f"{_peers.peers_dir()}{os.pathsep}{ROOT}"}
    proc = subprocess.run([sys.executable, "-c", WRAPPER, path, str(data), "--repeats", str(repeats), *extra],
                          capture_output=True, text=True, env=env, timeout=3600)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or len(lines) < 2:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed: {last[:80]}"
    return {**lines[0], **lines[-1]}


def write_data(path: Path, candles: int) -> None:
    """Generate the candles in a child process. Linux keeps a process's peak RSS across fork and exec, so
    a driver that held 4 years of candles would lend that peak to every engine it starts."""
    code = ("import sys, pyarrow as pa, pyarrow.parquet as pq; from benchmarks import _peers; "
            "cols = _peers.load('make_data').make_candles(int(sys.argv[2])); "
            "pq.write_table(pa.table({k: pa.array(v) for k, v in cols.items()}), sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(path), str(candles)], check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1m,1y")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            data = Path(tmp) / f"{size}.parquet"
            write_data(data, _peers.SIZES[size])
            rows = {}
            for name in args.engines.split(","):
                script, extra, largest = ENGINES[name]
                if ORDER.index(size) > ORDER.index(largest):
                    rows[name] = "skipped (too slow at this size)"
                    continue
                rows[name] = run_engine(script, extra, data, args.repeats)
            print(f"\n{size}: {_peers.SIZES[size]:,} candles")
            mine = [name for name in ("btk", "btk batch") if isinstance(rows.get(name), dict)]
            print("| engine | median warm s | cold s | candles/s | trades | total return | peak RSS MB | "
                  + " | ".join(f"{name} is" for name in mine) + " |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |" + " ---: |" * len(mine))
            for name, r in rows.items():
                if isinstance(r, str):
                    print(f"| {name} | {r} | | | | | |" + " |" * len(mine))
                    continue
                if name == "harness only":  # the memory floor: the harness's import and data load, no engine
                    print(f"| harness only (data loaded, nothing run) | | | | | | {r['peak_rss_mb']:.0f} |"
                          + " |" * len(mine))
                    continue
                ratios = [ratio(rows[m]["median_s"], r["median_s"]) if m != name else "" for m in mine]
                print(f"| {name} | {r['median_s']:.3f} | {r['cold_s']:.3f} | {r['candles_per_s']:,.0f} | "
                      f"{r['trades']} | {r['total_return_pct']:+.2f}% | {r['peak_rss_mb']:.0f} | "
                      + " | ".join(ratios) + " |")


def ratio(mine: float, theirs: float) -> str:
    """How btk compares with a peer: ``N.Nx faster`` or ``N.Nx slower``."""
    return f"{theirs / mine:.1f}x faster" if theirs >= mine else f"{mine / theirs:.1f}x slower"


if __name__ == "__main__":
    main()
