"""The ``btk`` command line. Exit codes: 0 ok, 1 the run failed, 2 usage (bad arguments or names)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC
from typing import Any


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
    backtest.add_argument("--refresh", action="store_true", help="ignore cached backtests")
    backtest.add_argument("--lookahead-samples", type=int, default=50, metavar="N",
                          help="decision times per symbol on which batch strategies are checked for look-ahead "
                               "(default 50; 0 skips the check)")
    for name, flow_help, description in (
            ("sweep", "backtest every combination of a parameterised strategy and rank them",
             "Run sweep_flow: the combinations of a strategy registered with make= and params= (the whole grid, a "
             "random sample or an Optuna search) on symbols x a frame, in mapped batches; a ranking by the metric "
             "averaged over the symbols, a heatmap over two parameters, reports and artifacts."),
            ("walk-forward", "choose parameters on rolling training windows, trade them on the test windows after",
             "Run walk_forward_flow: on each training window pick the best combination by the metric (from trades "
             "closed by the window's end), trade it on the following test window, stitch the out-of-sample "
             "trades; per-window table, out-of-sample statistics and the efficiency ratio.")):
        command = sub.add_parser(name, help=flow_help, description=description)
        command.add_argument("--setup", required=True, help="module path or .py file registering the strategy")
        command.add_argument("--strategy", required=True, help="a strategy registered with make= and params=")
        command.add_argument("--symbols", required=True, type=_csv, help="comma-separated symbols")
        command.add_argument("--exchange", required=True, help="exchange name")
        command.add_argument("--frame", required=True, help="frame name")
        command.add_argument("--metric", default="sharpe_ratio", help="ranking metric (default sharpe_ratio)")
        command.add_argument("--search", default="grid", choices=["grid", "random", "optuna"])
        command.add_argument("--samples", type=int, help="combinations to try (random, optuna)")
        command.add_argument("--seed", type=int, default=0)
        command.add_argument("--batch-size", type=int, help="combinations per task (default: about 16 tasks)")
        command.add_argument("--task-runner", default="thread", choices=["thread", "process", "dask"])
        command.add_argument("--dask-address", help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
        command.add_argument("--report-dir", default="./dump")
        if name == "sweep":
            command.add_argument("--heatmap", type=_csv, metavar="P1,P2",
                                 help="the two parameters of the heatmap (default: the first two that vary)")
        if name == "walk-forward":
            command.add_argument("--train", required=True, type=_days, help="training window, e.g. 7d, 36h")
            command.add_argument("--test", required=True, type=_days, help="test window, e.g. 2d")
            command.add_argument("--step", type=_days, help="how far windows move (default: the test window)")
            command.add_argument("--anchored", action="store_true", help="training windows all start at the frame")
    walker = sub.add_parser("walker", help="rank a registered walker's strategies on symbols",
                            description="Run walker_flow: Walker.run on each symbol, reports and artifacts.")
    walker.add_argument("--setup", required=True)
    walker.add_argument("--symbols", required=True, type=_csv)
    walker.add_argument("--walker", required=True, help="walker name")
    walker.add_argument("--report-dir", default="./dump")
    live = sub.add_parser("live", help="live-trade one pair until interrupted (state survives restarts)",
                          description="Run live_flow for one pair, its signals traded by a broker (a paper account "
                                      "by default; docs/broker.md). Stop with Ctrl-C: open positions stay in the "
                                      "stores under CC_PERSIST_BASE_DIR and the next run adopts them.")
    live.add_argument("--setup", required=True)
    live.add_argument("--symbol", required=True)
    live.add_argument("--strategy", required=True)
    live.add_argument("--exchange", required=True)
    live.add_argument("--broker", default="paper", choices=("paper", "ccxt", "ccxt-dry", "none"),
                      help="where orders go: a paper account (default), the pair's ccxt exchange (credentials from "
                           "BTK_CCXT_API_KEY / BTK_CCXT_SECRET), the same checked but filled on paper, or nowhere")
    live.add_argument("--paper-balance", type=float, default=10_000.0, help="the paper account's starting balance")
    live.add_argument("--stake", type=float, default=10.0, help="percent of the balance per entry (default 10)")
    live.add_argument("--sizing", default=None, help="a registered sizing (fixed percentage, Kelly, ATR) instead")
    live.add_argument("--report-dir", default="./dump", help="where the live report and the ledger are written at "
                                                             "the end (live/, ledger/)")
    optimize = sub.add_parser(
        "optimize", help="generate strategies with an LLM (Ollama) and rank them with their walker",
        description="Run optimizer_flow: collect the optimizer's training data, ask the model for a strategy per "
                    "train range and source, write the generated module, then run its walker on the test range. "
                    "The model server is the optimizer's host, else OLLAMA_HOST (default http://127.0.0.1:11434); "
                    "OLLAMA_API_KEY, when set, is sent as a bearer token.")
    optimize.add_argument("--setup", required=True, help="module path or .py file registering the optimizer")
    optimize.add_argument("--optimizer", required=True, help="optimizer name")
    optimize.add_argument("--symbol", required=True, help="the symbol to generate strategies for")
    optimize.add_argument("--module-dir", default="./dump/optimizer", help="where the module is written")
    optimize.add_argument("--report-dir", default="./dump")
    optimize.add_argument("--no-walker", action="store_true", help="only write the module, do not run its walker")
    report = sub.add_parser("report", help="render a previous backtest flow run's reports again",
                            description="Render the backtest, heatmap and walker reports of a saved run "
                                        "(<report_dir>/btk-run.json) without backtesting again.")
    report.add_argument("--run", default="./dump/btk-run.json", help="the run file (default ./dump/btk-run.json)")
    report.add_argument("--report-dir", default=None, help="where to write (default: the run file's folder)")
    data = sub.add_parser("data", help="download candle files from an exchange, or check a folder of them",
                          description="Candle files in the layout add_files_exchange serves: "
                                      "<dir>/<symbol>/<interval>.parquet (or .csv).")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    download = data_sub.add_parser(
        "download", help="download candles with ccxt (paged, resumable, with a progress bar)",
        description="Download candles with ccxt into <dir>/<symbol>/<interval>.parquet, page by page; a file that "
                    "exists is continued after its last candle, so an interrupted download resumes.")
    download.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    download.add_argument("--symbols", required=True, type=_csv, help="comma-separated ccxt symbols, e.g. BTC/USDT")
    download.add_argument("--interval", default="1m", help="candle interval (default 1m)")
    download.add_argument("--since", required=True, help="first day or time, ISO-8601 (UTC unless it has an offset)")
    download.add_argument("--until", default=None, help="end (exclusive), ISO-8601; default now")
    download.add_argument("--dir", default="./data", help="the folder (default ./data)")
    download.add_argument("--api-url", default=None,
                          help="another base URL for the exchange's spot API (a testnet, a proxy); spot markets only")
    check = data_sub.add_parser("check", help="gaps, duplicates, order and defects per candle file, as a table",
                                description="Check every <symbol>/<interval> file under a folder; exit 1 when one "
                                            "has duplicates, rows out of order, unaligned times, defective candles "
                                            "or cannot be read (gaps are reported, never an error).")
    check.add_argument("--dir", default="./data", help="the folder (default ./data)")
    sub.add_parser("serve", help="serve the deployments of deployments/serve.py (needs PREFECT_API_URL)",
                   description="Serve the backtest nightly, the walker hourly and the live flow on demand.")
    return parser


def _progress_bar(walker: bool = False):
    """A rich progress bar with one row per pair (backtests: ``Backtest.progress()`` polled five times a second,
    so the runs stay unobserved and fast; a pair that has finished shows complete) or per symbol (walkers, fed
    by ``listen_walker_progress``); returns (progress, stop)."""
    import threading

    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    import btk_core as bt
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    rows: dict = {}

    def on_backtest(event) -> None:
        key = (event.symbol, event.strategy_name)
        if key not in rows:
            rows[key] = progress.add_task(f"{event.strategy_name} {event.symbol}", total=max(1, event.total_frames))
        progress.update(rows[key], completed=event.processed_frames)

    def poll(done: threading.Event) -> None:
        while True:
            stopping = done.wait(0.2)
            running = bt.Backtest.progress()
            for event in running:
                on_backtest(event)
            still = {(e.symbol, e.strategy_name) for e in running}
            for key, task in rows.items():
                if key not in still:
                    progress.update(task, completed=progress.tasks[task].total)
            if stopping:
                return

    def on_walker(event) -> None:
        key = (event.symbol, event.walker_name)
        if key not in rows:
            rows[key] = progress.add_task(f"{event.walker_name} {event.symbol} (strategies)",
                                          total=max(1, event.total_strategies))
        progress.update(rows[key], completed=event.processed_strategies)

    if walker:
        return progress, bt.listen_walker_progress(on_walker)
    done = threading.Event()
    poller = threading.Thread(target=poll, args=(done,), name="btk-progress", daemon=True)
    poller.start()

    def stop() -> None:
        done.set()
        poller.join()
    return progress, stop


def _demo(args: argparse.Namespace) -> int:
    from flows import demo
    return demo.main(report_dir=args.report_dir)


def _backtest(args: argparse.Namespace) -> int:
    from flows.backtest import backtest_flow, check_request, check_symbols
    from flows.demo import print_summary
    check_request(args.setup, args.strategies, args.exchange, args.frame, args.metric, args.task_runner)
    check_symbols(args.setup, args.symbols, args.exchange, args.frame)  # fails in seconds, in one line
    from prefect.exceptions import CancelledRun

    from flows import interrupt
    progress, stop = _progress_bar()
    try:
        with progress:
            summary = backtest_flow(args.setup, args.symbols, args.strategies, args.exchange, args.frame,
                                    metric=args.metric, task_runner=args.task_runner, report_dir=args.report_dir,
                                    refresh=args.refresh, lookahead_samples=args.lookahead_samples)
    except CancelledRun as exc:
        print(f"btk backtest: {exc}", file=sys.stderr)
        return 143 if interrupt.received[:1] == [signal.SIGTERM] else 130
    finally:
        stop()
    print_summary(summary, args.metric)
    return 0


def _days(text: str) -> float:
    """``7d``, ``36h``, ``90m`` or a plain number of days."""
    units = {"d": 1.0, "h": 1 / 24, "m": 1 / 1440}
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a duration like 7d, 36h or 90m, got {text!r}") from None


def _sweep(args: argparse.Namespace) -> int:
    from flows.sweep import check_sweep, sweep_flow
    check_sweep(args.setup, args.strategy, args.exchange, args.frame, args.metric, args.search, args.samples)
    summary = sweep_flow(args.setup, args.strategy, args.symbols, args.exchange, args.frame, metric=args.metric,
                         search=args.search, samples=args.samples, seed=args.seed, batch_size=args.batch_size,
                         task_runner=args.task_runner, dask_address=args.dask_address, report_dir=args.report_dir,
                         heatmap=args.heatmap)
    print(f"\n{summary['tried']} combinations of {args.strategy} on {', '.join(args.symbols)}, by {args.metric} "
          f"(mean over the symbols):")
    for k, row in enumerate(summary["ranking"][:10], 1):
        value = "N/A" if row["metric"] is None else format(row["metric"], ".3f")
        ret = "N/A" if row["compounded_return"] is None else format(row["compounded_return"], "+.2f") + "%"
        print(f"{k:>3}. {row['strategy']:<44} {value:>8}  compounded {ret:>9}  trades {row['trades']}")
    print(f"report: {summary['report']}")
    return 0


def _walk_forward(args: argparse.Namespace) -> int:
    from flows.sweep import check_sweep
    from flows.walk_forward import plan_windows, walk_forward_flow
    check_sweep(args.setup, args.strategy, args.exchange, args.frame, args.metric, args.search, args.samples)
    plan_windows(args.setup, args.frame, args.train, args.test, args.step, args.anchored)
    summary = walk_forward_flow(args.setup, args.strategy, args.symbols, args.exchange, args.frame,
                                train_days=args.train, test_days=args.test, step_days=args.step,
                                anchored=args.anchored, metric=args.metric, search=args.search, samples=args.samples,
                                seed=args.seed, batch_size=args.batch_size, task_runner=args.task_runner,
                                dask_address=args.dask_address, report_dir=args.report_dir)
    print(f"\n{len(summary['windows'])} windows, chosen by {args.metric} on each training window:")
    for w in summary["windows"]:
        test = "N/A" if w["test_return"] is None else format(w["test_return"], "+.2f") + "%"
        print(f"{w['window']:>3}. {w['variant']:<44} test return {test:>9}  trades {w['test_trades']}")
    ratio = summary["efficiency_ratio"]
    print("out of sample: " + ", ".join(
        f"{s} {'N/A' if st['compounded_return'] is None else format(st['compounded_return'], '+.2f') + '%'}"
        for s, st in summary["out_of_sample"].items())
          + f"; efficiency ratio {'N/A' if ratio is None else format(ratio, '.2f')}")
    print(f"report: {summary['report']}")
    return 0


def _walker(args: argparse.Namespace) -> int:
    from btk_core.orchestration import lookup
    from flows.backtest import check_symbols
    from flows.setup_loader import load_setup
    from flows.walker import walker_flow
    load_setup(args.setup)
    walker = lookup("walker", args.walker)
    check_symbols(args.setup, args.symbols, walker.exchange_name, walker.frame_name)  # fails in seconds
    progress, stop = _progress_bar(walker=True)
    with progress:
        rows = walker_flow(args.setup, args.symbols, args.walker, report_dir=args.report_dir)
    stop()
    for row in rows:
        print(f"{row['symbol']:<10} best: {row['best_strategy'] or 'N/A'} ({row['metric']} "
              f"{'N/A' if row['best_metric'] is None else format(row['best_metric'], '.3f')})  "
              f"{row['report']}")
    return 0


def _check_pair_is_free(symbol: str, strategy_name: str) -> None:
    """Fail before starting Prefect when another run holds the pair (``AlreadyRunningError`` names it)."""
    from btk_core import get_config
    from btk_core.orchestration import PairLock
    lock = PairLock(get_config()["CC_PERSIST_BASE_DIR"], symbol, strategy_name)
    lock.acquire()
    lock.release()


def _check_broker(args: argparse.Namespace, exchange: object) -> None:
    """The broker choice is checked before the flow starts (``ValueError``: one line, exit 2)."""
    import os

    from btk_core.broker import EntrySizing, make_broker
    EntrySizing(args.stake, args.sizing)
    make_broker(args.broker, symbol=args.symbol, strategy_name=args.strategy, exchange=exchange)
    if args.paper_balance <= 0:
        raise ValueError(f"--paper-balance must be positive, got {args.paper_balance:g}")
    if args.broker == "ccxt" and not (os.environ.get("BTK_CCXT_API_KEY") and os.environ.get("BTK_CCXT_SECRET")):
        raise ValueError("--broker ccxt needs BTK_CCXT_API_KEY and BTK_CCXT_SECRET in the environment "
                         "(or use --broker ccxt-dry / paper)")


def _live(args: argparse.Namespace) -> int:
    """Exit 0 when the pair was stopped, 130 after Ctrl-C and 143 after SIGTERM (state kept either way), 2 when
    the pair is already running elsewhere."""
    from btk_core.orchestration import lookup
    from flows.setup_loader import load_setup
    from flows.temporary_server import temporary_api
    load_setup(args.setup)
    lookup("strategy", args.strategy)
    exchange = lookup("exchange", args.exchange)
    _check_broker(args, exchange)
    _check_pair_is_free(args.symbol, args.strategy)
    with temporary_api():  # without PREFECT_API_URL: a server that dies with this process, even on kill -9
        from flows.live import live_flow
        summary = live_flow(args.setup, args.symbol, args.strategy, args.exchange, broker=args.broker,
                            paper_balance=args.paper_balance, stake_percentage=args.stake, sizing_name=args.sizing,
                            report_dir=args.report_dir)
    for path in summary["reports"]:
        print(path)
    print(f"btk live: {args.symbol} {args.strategy} {summary['ended']} after {len(summary['closed'])} closed "
          f"trade(s); {summary['orders']}; the pair's state is kept for the next run", file=sys.stderr)
    return {"halted by SIGINT": 130, "halted by SIGTERM": 143}.get(summary["ended"], 0)


def _report(args: argparse.Namespace) -> int:
    from flows.reports import load_run, reports_flow
    load_run(args.run)
    out = reports_flow(args.run, args.report_dir)
    for path in list(out["reports"].values()) + list(out["heatmaps"].values()):
        print(path)
    for info in out["ranking"].values():
        print(info["report"])
    return 0


def _parse_time(text: str, field: str) -> int:
    from datetime import datetime
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field} must be an ISO-8601 date or time like 2024-01-01, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _exchange(exchange_id: str, api_url: str | None):
    from urllib.parse import urlparse

    import ccxt
    if exchange_id not in ccxt.exchanges:
        raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
    exchange = getattr(ccxt, exchange_id)({"enableRateLimit": True})
    if api_url:
        for key, value in list(exchange.urls["api"].items()):
            if isinstance(value, str):
                exchange.urls["api"][key] = api_url.rstrip("/") + urlparse(value).path
        exchange.options["fetchMarkets"] = {"types": ["spot"]}
    return exchange


def _data(args: argparse.Namespace) -> int:
    from btk_core.orchestration import CANDLE_INTERVAL_MS, check_candle_files, download_candles, iso
    if args.data_command == "check":
        checks = check_candle_files(args.dir)
        if not checks:
            raise ValueError(f"no candle files (<symbol>/<interval>.parquet or .csv) under {args.dir}")
        header = (f"{'file':<36} {'candles':>9} {'first':<17} {'last':<17} {'gaps':>7} {'dups':>5} {'order':>5} "
                  f"{'unaligned':>9} {'defects':>7}  status")
        print(header + "\n" + "-" * len(header))
        for c in checks:
            name = os.path.relpath(c.path, args.dir)
            if c.problem:
                print(f"{name:<36} {'':>9} {'':<17} {'':<17} {'':>7} {'':>5} {'':>5} {'':>9} {'':>7}  {c.problem}")
                continue
            print(f"{name:<36} {c.candles:>9} {iso(c.first)[:16]:<17} {iso(c.last)[:16]:<17} {c.gaps:>7} "
                  f"{c.duplicates:>5} {c.out_of_order:>5} {c.unaligned:>9} {c.defects:>7}  {'ok' if c.ok else 'FIX'}")
        return 0 if all(c.ok for c in checks) else 1
    if args.interval not in CANDLE_INTERVAL_MS:
        raise ValueError(f"interval must be one of {list(CANDLE_INTERVAL_MS)}, got {args.interval!r}")
    since = _parse_time(args.since, "--since")
    until = _parse_time(args.until, "--until") if args.until else None
    exchange = _exchange(args.exchange, args.api_url)
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn()) as bar:
        done = []
        for symbol in args.symbols:
            row = bar.add_task(f"{symbol} {args.interval}", total=1)
            def advance(done_ms: int, total_ms: int, row: Any = row) -> None:
                bar.update(row, completed=done_ms, total=total_ms)
            result = download_candles(exchange, symbol, args.interval, since, args.dir, until=until,
                                      on_progress=advance)
            bar.update(row, completed=1, total=1)
            done.append(result)
    for r in done:
        span = f"{iso(r.first)[:16]} to {iso(r.last)[:16]}" if r.first is not None else "no candles"
        print(f"{r.symbol:<12} {r.candles:>9} candles ({r.added} new), {span}: {r.path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import runpy
    from pathlib import Path
    runpy.run_path(str(Path(__file__).resolve().parent.parent / "deployments" / "serve.py"), run_name="__main__")
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from btk_core.orchestration import check_ollama
    from flows.optimizer import check_optimizer, optimizer_flow
    schema = check_optimizer(args.setup, args.optimizer)
    check_ollama(schema.host, schema.model)  # in seconds, one line: no model server, no run
    summary = optimizer_flow(args.setup, args.optimizer, args.symbol, run_walker=not args.no_walker,
                             module_dir=args.module_dir, report_dir=args.report_dir)
    print(f"generated {summary['strategies']} strategies: {summary['module']}")
    walker = summary["walker"]
    if walker:
        for k, row in enumerate(walker["ranking"], 1):
            value = "N/A" if row["metric_value"] is None else format(row["metric_value"], ".3f")
            print(f"{k:>3}. {row['strategy']:<28} {walker['metric']} {value:>8}  signals {row['total_signals']}")
        print(f"walker report: {walker['report']}")
        if walker["errors"]:
            print(f"{walker['errors']} errors during the walker (first: {walker['first_errors'][0]})", file=sys.stderr)
    return 0


COMMANDS = {"demo": _demo, "backtest": _backtest, "sweep": _sweep, "walk-forward": _walk_forward,
            "walker": _walker, "live": _live, "optimize": _optimize,
            "report": _report, "data": _data, "serve": _serve}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from btk_core import AlreadyRunningError, BtkError, UnknownNameError
    from btk_core.orchestration import OllamaUnreachableError
    from flows.setup_loader import SetupError
    try:
        return COMMANDS[args.command](args)
    except (UnknownNameError, SetupError, ValueError, AlreadyRunningError,
            OllamaUnreachableError) as exc:  # one line, no traceback
        print(f"btk {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once, without a traceback
        print(f"btk {args.command}: interrupted", file=sys.stderr)
        return 130
    except (BtkError, Exception) as exc:
        print(f"btk {args.command}: run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
