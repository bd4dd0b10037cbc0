"""Prefect tasks over the public ``btk_core`` API. They take names and return small, JSON-friendly
summaries, never candles or live objects, so any task runner (threads, processes, Dask workers)
can run them: each worker loads the setup by the same string and rebuilds the registry.

The tasks after the backtests receive every pair's results; flows pass them wrapped in ``quote`` so that
Prefect does not walk thousands of nested trade fields looking for futures, and those tasks never cache
(they write files).

Caching: ``run_backtest`` results are cached for a day under a key made of the result format, the code
(the setup, the local modules it imports, btk's engine and flows), the exchange's fingerprint of the data,
the pairs, the frame and the whole config; a frame that reaches into the present, or an exchange without a
fingerprint, is never cached. ``run_backtest`` writes no files: it
returns its data and the rendered texts of the store-based reports, and the uncached
``render_backtest_reports`` writes every file, so a cache hit still produces all reports.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from btk_core.orchestration import STAT_FIELDS
from flows.setup_loader import load_setup, setup_digest

#: Bump when what ``run_backtest`` returns changes, so results cached by an older btk are not reused.
RESULT_FORMAT = 4  # 3: the frame span and the SPEC §20.4 statistics; 4: buy-and-hold sample, portfolio note


def shared(results: list[dict[str, Any]]) -> Any:
    """Results handed to the report tasks as they are: ``quote`` keeps Prefect from walking thousands of nested
    trade fields looking for futures (typed ``Any``: the tasks receive the list itself)."""
    from prefect.utilities.annotations import quote
    return quote(results)


def closed_to_json(result: Any) -> dict[str, Any]:
    """A closed result as plain JSON (what tasks pass around and the run file keeps)."""
    return {"signal": asdict(result.signal), "exchange_name": result.exchange_name,
            "current_price": result.current_price,
            "close_reason": result.close_reason, "close_timestamp": result.close_timestamp,
            "pnl": asdict(result.pnl)}


def closed_from_json(data: dict[str, Any]) -> Any:
    """The ``ClosedResult`` back from :func:`closed_to_json`."""
    from btk_core import ClosedResult, Pnl, SignalRow
    signal = SignalRow(**data["signal"])
    return ClosedResult(symbol=signal.symbol, strategy_name=signal.strategy_name, exchange_name=data["exchange_name"],
                        backtest=True, current_price=data["current_price"], signal=signal,
                        timestamp=data["close_timestamp"], close_reason=data["close_reason"],
                        close_timestamp=data["close_timestamp"], pnl=Pnl(**data["pnl"]))


_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+\.png)\)")


def inline_images(text: str, folder: str) -> str:
    """The markdown with its pictures embedded as ``data:`` URIs: the Prefect UI cannot load a report's relative
    image paths (the files stay on the machine that wrote them). A picture that is not there keeps its link."""
    import base64

    def embed(match: re.Match[str]) -> str:
        path = Path(folder) / match.group(2)
        if not path.is_file():
            return match.group(0)
        return f"![{match.group(1)}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
    return _IMAGE.sub(embed, text)


def rounded(rows: list[dict[str, Any]], digits: int = 4) -> list[dict[str, Any]]:
    """Table artifact rows with floats rounded for reading (``41.9689`` rather than ``41.968911917098445``)."""
    return [{k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower())).strip("-")[:100]


def run_cache_key(kind: str, setup: str, pairs: list[list[str]], exchange_name: str, frame_name: str,
                  *extra: Any) -> str | None:
    """The cache key of backtests of ``pairs`` on a frame: the result format, the code, the exchange's
    fingerprint of the data, the pairs, the frame and the whole config (``None``: not cacheable)."""
    import btk_core as bt
    from btk_core.orchestration import data_fingerprint, lookup, now_ms
    load_setup(setup)
    if lookup("frame", frame_name).end_ms > now_ms():
        return None
    intervals = ["1m", *(lookup("strategy", g).interval for _, g in pairs)]
    data = data_fingerprint([s for s, _ in pairs], intervals, exchange_name, frame_name)
    if data is None:
        _warn_uncached(exchange_name)
        return None
    frame = lookup("frame", frame_name)
    material = json.dumps([RESULT_FORMAT, setup_digest(setup), data, pairs, exchange_name, frame_name, frame.start_ms,
                           frame.end_ms, frame.interval, bt.get_config(), *extra], sort_keys=True, default=str)
    return f"btk-{kind}-" + hashlib.sha256(material.encode()).hexdigest()


def backtest_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    return run_cache_key("backtest", parameters["setup"], parameters["pairs"], parameters["exchange_name"],
                         parameters["frame_name"])


def window_frame(frame_name: str, start_ms: int | None, end_ms: int | None) -> str:
    """``frame_name`` itself, or the window ``[start_ms, end_ms]`` of it as a frame of the same interval,
    registered under a name made of its bounds (every worker registers the same one)."""
    import btk_core as bt
    from btk_core.orchestration import UnknownNameError, lookup
    if start_ms is None or end_ms is None:
        return frame_name
    name = f"{frame_name}@{start_ms}-{end_ms}"
    try:
        lookup("frame", name)
    except UnknownNameError:
        base = lookup("frame", frame_name)
        try:
            bt.add_frame(frame_name=name, interval=base.interval, start_date=start_ms, end_date=end_ms,
                         note=f"window of {frame_name}")
        except bt.DuplicateNameError:
            pass  # another thread of this worker registered it first
    return name


_uncached: set[str] = set()


def _warn_uncached(exchange_name: str) -> None:
    """Said once per exchange and process: results of a source without a fingerprint are never reused."""
    if exchange_name not in _uncached:
        import logging
        _uncached.add(exchange_name)
        logging.getLogger("prefect").info("backtests on exchange %s are not cached: it has no fingerprint to tell "
                                          "when its data changes (add_exchange(..., fingerprint=...))", exchange_name)


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "N/A" if value is None else format(value, fmt) + unit


def backtest_run_name() -> str:
    """``backtest BTCUSDT sma_cross`` (``portfolio BTCUSDT swing, ETHUSDT swing`` for a shared risk profile)."""
    from prefect.runtime import task_run
    pairs = task_run.parameters.get("pairs") or []
    return ("backtest " if len(pairs) == 1 else "portfolio ") + ", ".join(f"{s} {g}" for s, g in pairs)


@task(name="run_backtest", task_run_name=backtest_run_name, cache_key_fn=backtest_cache_key,
      cache_expiration=timedelta(days=1), persist_result=True, result_serializer="json")
def run_backtest(setup: str, pairs: list[list[str]], exchange_name: str, frame_name: str) -> list[dict[str, Any]]:
    """Backtest one pair, or a group of pairs sharing a risk profile as one portfolio run. Returns per pair
    its statistics, its closed trades and the texts of its schedule, risk, partial and performance reports."""
    import btk_core as bt
    from btk_core.orchestration import portfolio_note
    from flows import interrupt
    load_setup(setup)
    interrupt.check()
    run = (bt.Backtest.run(pairs[0][0], strategy_name=pairs[0][1], exchange_name=exchange_name,
                           frame_name=frame_name) if len(pairs) == 1 else
           bt.Backtest.run_portfolio([(p[0], p[1]) for p in pairs], exchange_name=exchange_name,
                                     frame_name=frame_name))
    for _ in run:
        interrupt.check()  # a stopped run is not cached as if it were complete
    interrupt.check()
    out = []
    for symbol, strategy in pairs:
        stats = bt.Backtest.get_data(symbol, strategy)
        texts = {kind: api.get_report(symbol, strategy) for api, kind in (
            (bt.Schedule, "schedule"), (bt.Risk, "risk"), (bt.Partial, "partial"), (bt.Performance, "performance"))}
        get_run_logger().info("%s %s: %d trades, compounded return %s, max drawdown %s, win rate %s, sharpe %s",
                              strategy, symbol, stats.total_signals, _num(stats.compounded_return, "+.2f", " %"),
                              _num(stats.max_drawdown, ".2f", " %"), _num(stats.win_rate, ".1f", " %"),
                              _num(stats.sharpe_ratio, ".3f"))
        span = bt.Backtest.get_span(symbol, strategy)
        out.append({"symbol": symbol, "strategy": strategy, "stats": {f: getattr(stats, f) for f in STAT_FIELDS},
                    "portfolio": portfolio_note(strategy, [(s, g) for s, g in pairs]) if len(pairs) > 1 else None,
                    "span": None if span is None else asdict(span),
                    "closed": [closed_to_json(r) for r in stats.signal_list], "texts": texts})
    return out


@task(name="check_batch_lookahead", task_run_name="look-ahead check {symbol} {strategy}", cache_policy=NO_CACHE)
def check_batch_lookahead(setup: str, symbol: str, strategy: str, exchange_name: str, frame_name: str,
                          samples: int) -> int:
    """``check_lookahead`` of a batch strategy on one symbol: raises ``LookAheadError`` if it reads the future."""
    import btk_core as bt
    load_setup(setup)
    return bt.check_lookahead(symbol, strategy, exchange_name, frame_name, samples=samples)


@task(name="rank_strategies", task_run_name="rank by {metric}", cache_policy=NO_CACHE)
def rank_strategies(results: list[dict[str, Any]], strategies: list[str], metric: str, exchange_name: str,
                    frame_name: str, report_dir: str) -> dict[str, Any]:
    """Rank the strategies of each symbol by ``metric`` exactly as the walker does (SPEC §12: finite values
    only, replaced only by a strictly greater value, ties keep the earlier strategy) and write the walker
    report of each symbol (markdown + bar chart + artifact)."""
    from btk_core.orchestration import best_by_metric, finite, write_walker
    ranking: dict[str, Any] = {}
    for symbol in dict.fromkeys(r["symbol"] for r in results):
        rows = {r["strategy"]: r for r in results if r["symbol"] == symbol}
        tested = [s for s in strategies if s in rows]
        values = [(s, finite(rows[s]["stats"].get(metric))) for s in tested]
        best, best_value = best_by_metric(values)
        meta = {"walker_name": "backtest-flow", "symbol": symbol, "exchange_name": exchange_name,
                "frame_name": frame_name, "metric": metric, "best_strategy": best, "best_metric": best_value,
                "notes": [rows[s]["portfolio"] for s in tested if rows[s].get("portfolio")]}
        rows_for_report = [{"strategy": s, "metric_value": v, "stats": rows[s]["stats"],
                            "signals": [{"id": c["signal"]["id"], "symbol": symbol, "position": c["signal"]["position"],
                                         "pnl": c["pnl"]["pnl_percentage"], "close_reason": c["close_reason"],
                                         "pending_at": c["signal"]["pending_at"],
                                         "close_timestamp": c["close_timestamp"]} for c in rows[s]["closed"]]}
                           for s, v in values]
        path = write_walker(meta, rows_for_report, str(Path(report_dir) / "walker"))
        create_markdown_artifact(inline_images(Path(path).read_text(), str(Path(path).parent)),
                                 key=artifact_key("btk-walker", symbol), description=f"Ranking on {symbol}")
        ranking[symbol] = {"best_strategy": best, "best_metric": best_value, "report": path,
                           "ranking": sorted(values, key=lambda sv: (sv[1] is None, -(sv[1] or 0.0)))}
    table = [{"symbol": sym, "rank": k, "strategy": s, metric: v}
             for sym, info in ranking.items() for k, (s, v) in enumerate(info["ranking"], 1)]
    create_table_artifact(rounded(table), key=artifact_key("btk-ranking", metric),
                          description=f"Strategies ranked by {metric}")
    return ranking


@task(name="write_heatmap", task_run_name="heatmap {strategy}", cache_policy=NO_CACHE)
def write_heatmap(results: list[dict[str, Any]], strategy: str, report_dir: str) -> str:
    """The portfolio heatmap of one strategy from the trades of its pairs (report + picture + artifact)."""
    from btk_core.orchestration import heatmap_statistics
    from btk_core.orchestration import write_heatmap as write
    pnls = {r["symbol"]: [c["pnl"]["pnl_percentage"] for c in sorted(r["closed"], key=lambda c: c["close_timestamp"])]
            for r in results if r["strategy"] == strategy}
    path = write(strategy, heatmap_statistics(pnls), str(Path(report_dir) / "heatmap"))
    create_markdown_artifact(inline_images(Path(path).read_text(), str(Path(path).parent)),
                             key=artifact_key("btk-heatmap", strategy), description=f"Heatmap of {strategy}")
    return path


@task(name="write_reports", task_run_name="publish reports", cache_policy=NO_CACHE)
def write_reports(results: list[dict[str, Any]], paths: list[str]) -> dict[str, str]:
    """Publish each pair's backtest report as a markdown artifact and the statistics as a table."""
    table = [{"symbol": r["symbol"], "strategy": r["strategy"], **r["stats"]} for r in results]
    create_table_artifact(rounded(table), key="btk-backtest-statistics", description="Statistics per pair")
    for path, r in zip(paths, results):
        create_markdown_artifact(inline_images(Path(path).read_text(), str(Path(path).parent)),
                                 key=artifact_key("btk-backtest", r["symbol"], r["strategy"]),
                                 description=f"Backtest of {r['strategy']} on {r['symbol']}")
    return {f"{r['symbol']}/{r['strategy']}": path for path, r in zip(paths, results)}


@task(name="render_backtest_reports", task_run_name="write backtest reports", cache_policy=NO_CACHE)
def render_backtest_reports(results: list[dict[str, Any]], report_dir: str) -> list[str]:
    """Write each pair's reports: the backtest report (and equity picture) from its closed results, and the
    schedule, risk, partial and performance texts the backtest rendered. Returns the backtest report paths
    in the order of ``results``."""
    from btk_core.orchestration import Span, backtest_statistics, dump, pair_file, write_backtest
    paths = []
    for r in results:
        for kind, other in r["texts"].items():
            dump(other, str(Path(report_dir) / kind), pair_file(r["symbol"], r["strategy"]))
        span = Span(**r["span"]) if r.get("span") else None
        stats = backtest_statistics([closed_from_json(c) for c in r["closed"]], span)
        paths.append(write_backtest(r["symbol"], r["strategy"], stats, str(Path(report_dir) / "backtest"), span,
                                    r.get("warning")))
    return paths
