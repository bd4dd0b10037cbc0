#!/usr/bin/env python3
"""Soak the live crash test: kill -9 a live run hundreds of times per adapter (at random instants from
outside, then just before random state writes), restart it, and check that state never tears, the trades
equal an uninterrupted run and every notification of that run was delivered at least once. Prints kills,
trades, notifications, repeats and time.

    python benchmarks/soak_live_crash.py [--kills 250] [--days 45] [--write-days 10] [--adapters file,sqlite,redis]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=250)
    ap.add_argument("--days", type=float, default=45,
                    help="simulated days of 1m ticks for the kills from outside (long enough for them all)")
    ap.add_argument("--write-days", type=float, default=10, help="simulated days for the kills before writes")
    ap.add_argument("--adapters", default="file,sqlite,redis")
    args = ap.parse_args()
    os.environ["BTK_CRASH_KILLS"] = str(args.kills)
    sys.path.insert(0, str(ROOT))
    from tests.integration import test_live_crash as harness
    from tests.redis_server import RedisServer

    for adapter in args.adapters.split(","):
        for killer, days in ((harness.kill_from_outside, args.days), (harness.kill_before_writes, args.write_days)):
            with tempfile.TemporaryDirectory() as tmp:
                server = RedisServer(tmp).start() if adapter == "redis" else None
                started = time.perf_counter()
                try:
                    harness.crash_test(Path(tmp), adapter, killer, days, [server.url] if server else [])
                finally:
                    if server:
                        server.stop()
                print(f"  {time.perf_counter() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
