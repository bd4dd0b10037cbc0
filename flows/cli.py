"""The ``btk`` command line. Exit codes: 0 ok, 1 the run failed, 2 usage error."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="btk", description="Backtest and live-trade one strategy function.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the demo on the embedded synthetic exchange")
    demo.add_argument("--report-dir", default="./dump", help="where reports are written (default ./dump)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from flows import demo
    try:
        return demo.main(report_dir=args.report_dir)
    except Exception as exc:  # one clear line, no traceback
        print(f"btk {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
