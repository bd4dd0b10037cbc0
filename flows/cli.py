"""The ``btk`` command line. Exit codes: 0 ok, 1 the run failed, 2 usage (bad arguments or names)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="btk", description="Backtest and live-trade one strategy function.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the backtest flow on the embedded synthetic exchange",
                          description="Backtest the example strategies of examples/demo_setup.py on the synthetic "
                                      "exchange with the Prefect backtest flow, rank them and write reports.")
    demo.add_argument("--report-dir", default="./dump", help="where reports are written (default ./dump)")
    backtest = sub.add_parser("backtest", help="backtest strategies x symbols with the Prefect flow",
                              description="Run backtest_flow: one task per pair (pairs sharing a risk profile run "
                                          "together), a ranking, heatmaps and reports.")
    backtest.add_argument("--setup", required=True, help="module path or .py file whose import registers the schemas")
    backtest.add_argument("--symbols", required=True, type=_csv, help="comma-separated symbols")
    backtest.add_argument("--strategies", required=True, type=_csv, help="comma-separated strategy names")
    backtest.add_argument("--exchange", required=True, help="exchange name")
    backtest.add_argument("--frame", required=True, help="frame name")
    backtest.add_argument("--metric", default="sharpe_ratio", help="ranking metric (default sharpe_ratio)")
    backtest.add_argument("--task-runner", default="thread", choices=["thread", "process", "dask"])
    backtest.add_argument("--report-dir", default="./dump")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from btk_core.errors import BtkError, UnknownNameError
    from flows.setup_loader import SetupError
    try:
        if args.command == "demo":
            from flows import demo
            return demo.main(report_dir=args.report_dir)
        from flows.backtest import backtest_flow, check_request
        from flows.demo import print_summary
        check_request(args.setup, args.strategies, args.exchange, args.frame, args.metric, args.task_runner)
        summary = backtest_flow(args.setup, args.symbols, args.strategies, args.exchange, args.frame,
                                metric=args.metric, task_runner=args.task_runner, report_dir=args.report_dir)
        print_summary(summary, args.metric)
        return 0
    except (UnknownNameError, SetupError, ValueError) as exc:  # bad names or arguments: one line, no traceback
        print(f"btk {args.command}: {exc}", file=sys.stderr)
        return 2
    except (BtkError, Exception) as exc:
        print(f"btk {args.command}: run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
