#!/usr/bin/env python3
"""The peers' timing harness with nothing to run: its import, data load and bookkeeping alone. Its peak
RSS is the floor under every engine's figure in ``bench_vs_peers.py`` (all of them load data the same way)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import _peers

common = _peers.load("common")


def main() -> None:
    args = common.parse_args()
    common.bench("harness only", args, lambda: common.load_arrays(args.data), lambda data: (0, 0.0, None))


if __name__ == "__main__":
    main()
