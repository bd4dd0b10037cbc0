"""``sweep_flow``: backtest the combinations of a parameterised strategy on symbols x a frame and rank them.

    from flows.sweep import sweep_flow
    summary = sweep_flow("examples/demo_setup.py", "sma_grid", ["BTCUSDT", "ETHUSDT"], "synthetic", "june-2024")

Search: the whole grid (``grid``), ``samples`` combinations drawn at random (``random``), or Bayesian search
with Optuna (``optuna``, the ``sweep`` extra) in rounds of parallel trials. Combinations are backtested in
batches, one mapped and cached task per batch (Prefect costs ~50 ms per task; a batch holds several
backtests, so that stays small against the work), on any task runner: threads, processes, or a Dask cluster
(``task_runner="dask", dask_address="tcp://scheduler:8786"``). A combination's score is its metric averaged
over the symbols; the report ranks them, draws a heatmap over two parameters and is published as artifacts.
"""
from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.runners import make_task_runner
from flows.setup_loader import load_setup
from flows.tasks import artifact_key, closed_to_json, inline_images, rounded, run_cache_key, window_frame

SEARCHES = ("grid", "random", "optuna")
#: Tasks per sweep when the batch size is not given: enough to keep every worker busy and show progress,
#: few enough that Prefect's per-task cost stays small against the backtests.
TARGET_TASKS = 16


def pairs_of(variants: list[str], symbols: list[str]) -> list[list[str]]:
    return [[s, v] for v in variants for s in symbols]


def batch_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    load_setup(parameters["setup"])
    frame = window_frame(parameters["frame_name"], parameters.get("start_ms"), parameters.get("end_ms"))
    return run_cache_key("sweep", parameters["setup"], pairs_of(parameters["variants"], parameters["symbols"]),
                         parameters["exchange_name"], frame, bool(parameters.get("trades")),
                         parameters.get("cutoff_ms"))


def batch_run_name() -> str:
    from prefect.runtime import task_run
    variants = task_run.parameters.get("variants") or []
    window = task_run.parameters.get("start_ms")
    return f"{len(variants)} variants from {variants[0] if variants else '-'}" + (" (window)" if window else "")


@task(name="run_variants", task_run_name=batch_run_name, cache_key_fn=batch_cache_key, persist_result=True,
      result_serializer="json")
def run_variants(setup: str, variants: list[str], symbols: list[str], exchange_name: str, frame_name: str,
                 start_ms: int | None = None, end_ms: int | None = None, trades: bool = False,
                 cutoff_ms: int | None = None) -> list[dict[str, Any]]:
    """Backtest each variant on each symbol over the frame (or its window ``[start_ms, end_ms]``); a variant
    with a risk profile runs its symbols as one portfolio (SPEC §8). Returns a row per pair: its statistics
    and, with ``trades``, its closed trades. With ``cutoff_ms`` the statistics count only the trades closed by
    then, as if the run had ended at that instant (a walk-forward's training must not see its test window)."""
    import btk_core as bt
    from btk_core.orchestration import STAT_FIELDS, Span, backtest_statistics, lookup
    load_setup(setup)
    frame = window_frame(frame_name, start_ms, end_ms)
    rows = []
    for variant in variants:
        with pairs_held([(s, variant) for s in symbols]):  # a pair runs once at a time in a process
            if lookup("strategy", variant).risk_names and len(symbols) > 1:
                list(bt.Backtest.run_portfolio([(s, variant) for s in symbols], exchange_name=exchange_name,
                                               frame_name=frame))
                results = {s: bt.Backtest.get_data(s, variant) for s in symbols}
            else:
                results = {}
                for symbol in symbols:
                    list(bt.Backtest.run(symbol, strategy_name=variant, exchange_name=exchange_name,
                                         frame_name=frame))
                    results[symbol] = bt.Backtest.get_data(symbol, variant)
            spans = {s: bt.Backtest.get_span(s, variant) for s in symbols}
        for symbol in symbols:
            stats = results[symbol]
            if cutoff_ms is not None:
                span = spans[symbol]
                stats = backtest_statistics([r for r in stats.signal_list if r.close_timestamp <= cutoff_ms],
                                            None if span is None else Span(span.start, cutoff_ms, span.first_close))
            row: dict[str, Any] = {"strategy": variant, "symbol": symbol,
                                   "stats": {f: getattr(stats, f) for f in STAT_FIELDS}}
            if trades:
                row["closed"] = [closed_to_json(r) for r in stats.signal_list]
            rows.append(row)
    return rows


_pair_locks: dict[tuple[str, str], threading.Lock] = {}
_pair_locks_guard = threading.Lock()


@contextmanager
def pairs_held(pairs: list[tuple[str, str]]) -> Iterator[None]:
    """Hold the pairs' locks (in sorted order): the engine keeps one run and one result per pair in a process,
    and a walk-forward runs the same pair on several windows at once on a thread runner."""
    with _pair_locks_guard:
        locks = [_pair_locks.setdefault(pair, threading.Lock()) for pair in sorted(set(pairs))]
    with ExitStack() as stack:
        for lock in locks:
            stack.enter_context(lock)
        yield


def score(rows: list[dict[str, Any]], metric: str) -> dict[str, dict[str, Any]]:
    """Per variant, in first-seen order: the metric averaged over its symbols (finite values only; ``None``
    when no symbol has one), the compounded return averaged likewise, and the trades of all symbols."""
    from btk_core.orchestration import finite
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry: dict[str, Any] = out.setdefault(row["strategy"], {"values": [], "returns": [], "trades": 0,
                                                                 "drawdowns": []})
        entry["values"].append(finite(row["stats"].get(metric)))
        entry["returns"].append(finite(row["stats"].get("compounded_return")))
        entry["drawdowns"].append(finite(row["stats"].get("max_drawdown")))
        entry["trades"] += row["stats"]["total_signals"]

    def mean(xs: list[float | None]) -> float | None:
        kept = [x for x in xs if x is not None]
        return math.fsum(kept) / len(kept) if kept else None
    return {v: {"metric": mean(e["values"]), "compounded_return": mean(e["returns"]),
                "max_drawdown": max((d for d in e["drawdowns"] if d is not None), default=None), "trades": e["trades"]}
            for v, e in out.items()}


def ranked(scores: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Best first by metric (``None`` last); ties keep the tried order (the walker's rule, SPEC §12)."""
    order = {v: k for k, v in enumerate(scores)}
    return sorted(scores.items(), key=lambda it: (it[1]["metric"] is None, -(it[1]["metric"] or 0.0), order[it[0]]))


def batches(variants: list[str], size: int | None) -> list[list[str]]:
    size = size or max(1, math.ceil(len(variants) / TARGET_TASKS))
    return [variants[k:k + size] for k in range(0, len(variants), size)]


def progress(done: int, total: int, what: str) -> None:
    """A progress bar on a terminal, a log line otherwise."""
    if sys.stderr.isatty():
        filled = round(30 * done / total) if total else 30
        sys.stderr.write(f"\r{what} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    else:
        get_run_logger().info("%s: %d/%d", what, done, total)


#: A window's first and last frame timestamps and its cutoff (``None``: the whole frame, no cutoff).
WindowBounds = tuple[int | None, int | None, int | None]
WHOLE_FRAME: WindowBounds = (None, None, None)


def run_batches(runner: Any, setup: str, plan: list[tuple[list[str], WindowBounds]], symbols: list[str],
                exchange_name: str, frame_name: str, trades: bool = False,
                what: str = "backtests") -> list[list[dict[str, Any]]]:
    """Each (variants, window) of ``plan`` as one mapped task; returns their rows in plan order, reporting
    progress as tasks finish."""
    from prefect.futures import as_completed
    futures = runner.map(run_variants, {"setup": unmapped(setup), "variants": [g for g, _ in plan],
                                        "symbols": unmapped(symbols), "exchange_name": unmapped(exchange_name),
                                        "frame_name": unmapped(frame_name), "start_ms": [w[0] for _, w in plan],
                                        "end_ms": [w[1] for _, w in plan], "trades": unmapped(trades),
                                        "cutoff_ms": [w[2] for _, w in plan]})
    total = sum(len(g) for g, _ in plan) * len(symbols)
    done = 0
    for future in as_completed(futures):
        done += len(future.result())
        progress(done, total, what)
    return [f.result() for f in futures]


def optuna_search(runner: Any, setup: str, strategy: str, symbols: list[str], exchange_name: str, frame_name: str,
                  metric: str, samples: int, seed: int, parallel: int) -> list[dict[str, Any]]:
    """Bayesian search (Optuna's TPE sampler) in rounds of ``parallel`` trials, each a mapped task."""
    import optuna  # check_sweep made sure it is there

    from btk_core.orchestration import lookup_family
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    family = lookup_family(strategy)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[dict[str, Any]] = []
    tried: dict[str, float | None] = {}
    attempts = 0
    while len(tried) < min(samples, len(family.combinations())) and attempts < samples * 20:
        trials: list[Any] = []
        variants: list[str] = []
        while len(trials) < parallel and len(tried) + len(variants) < samples and attempts < samples * 20:
            attempts += 1
            trial = study.ask()
            values = {name: trial.suggest_categorical(name, list(choices)) for name, choices in family.params.items()}
            name = family.variant_name(values)
            if not family.allowed(values) or name in variants:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif name in tried:
                study.tell(trial, tried[name] if tried[name] is not None else float("-inf"))
            else:
                trials.append(trial)
                variants.append(name)
        if not variants:
            break
        for batch in run_batches(runner, setup, [([v], WHOLE_FRAME) for v in variants], symbols, exchange_name,
                                 frame_name, what="optuna trials"):
            rows += batch
        scores = score(rows, metric)
        for trial, name in zip(trials, variants):
            tried[name] = scores[name]["metric"]
            study.tell(trial, tried[name] if tried[name] is not None else float("-inf"))
    return rows


def write_sweep_report(summary: dict[str, Any], report_dir: str) -> str:
    """``<report_dir>/sweep/<strategy>_<frame>.md`` (+ heatmap picture and ``.json`` of every row)."""
    from btk_core.orchestration import dump, safe_name, sweep_heatmap_png, sweep_report
    folder = str(Path(report_dir) / "sweep")
    stem = f"{safe_name(summary['strategy'])}_{safe_name(summary['frame_name'])}"
    image = sweep_heatmap_png(summary, folder, f"{stem}.png")
    dump(json.dumps(summary, indent=1, allow_nan=False, default=str), folder, f"{stem}.json")
    return dump(sweep_report(summary, image), folder, f"{stem}.md")


def check_sweep(setup: str, strategy: str, exchange_name: str, frame_name: str, metric: str, search: str,
                samples: int | None) -> Any:
    """The parameterised strategy, after checking every name and option (fails fast, in one line, before a
    flow starts)."""
    from btk_core.orchestration import WALKER_METRICS, lookup, lookup_family
    load_setup(setup)
    if metric not in WALKER_METRICS:
        raise ValueError(f"metric must be one of {list(WALKER_METRICS)}, got {metric!r}")
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {list(SEARCHES)}, got {search!r}")
    if search != "grid" and samples is not None and samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if search == "random" and samples is None:
        raise ValueError("random search needs samples (how many combinations to try)")
    if search == "optuna":
        import importlib.util
        if importlib.util.find_spec("optuna") is None:
            raise ValueError("search 'optuna' needs the sweep extra: pip install 'btk[sweep]'")
    family = lookup_family(strategy)
    lookup("exchange", exchange_name)
    lookup("frame", frame_name)
    return family


@flow(name="btk-sweep")
def sweep_flow(setup: str, strategy: str, symbols: list[str], exchange_name: str, frame_name: str,
               metric: str = "sharpe_ratio", search: str = "grid", samples: int | None = None, seed: int = 0,
               batch_size: int | None = None, task_runner: str = "thread", dask_address: str | None = None,
               report_dir: str = "./dump", heatmap: list[str] | None = None) -> dict[str, Any]:
    """Rank the combinations of ``strategy`` by ``metric`` averaged over ``symbols``; returns the ranking, the
    report path and every row (variant, symbol, statistics). ``heatmap`` names the two parameters of the
    picture (default: the first two with more than one value)."""
    from btk_core.orchestration import choose
    family = check_sweep(setup, strategy, exchange_name, frame_name, metric, search, samples)
    if heatmap is not None and (len(heatmap) != 2 or not set(heatmap) <= set(family.params)):
        raise ValueError(f"heatmap must name two of {list(family.params)}, got {heatmap!r}")
    symbols = list(symbols)
    with make_task_runner(task_runner, address=dask_address) as runner:
        if search == "optuna":
            rows = optuna_search(runner, setup, strategy, symbols, exchange_name, frame_name, metric,
                                 samples or 20, seed, parallel=max(2, TARGET_TASKS // 4))
        else:
            variants = [family.variant_name(c) for c in choose(family, search, samples, seed)]
            plan = [(group, WHOLE_FRAME) for group in batches(variants, batch_size)]
            rows = [row for batch in run_batches(runner, setup, plan, symbols, exchange_name, frame_name, what="sweep")
                    for row in batch]
    ranking = ranked(score(rows, metric))
    summary: dict[str, Any] = {"strategy": strategy, "params": {k: list(v) for k, v in family.params.items()},
               "symbols": symbols, "exchange_name": exchange_name, "frame_name": frame_name, "metric": metric,
               "search": search, "tried": len(ranking), "heatmap": list(heatmap) if heatmap else None,
               "ranking": [{"strategy": v, "params": family.parse(v), **s} for v, s in ranking], "rows": rows}
    summary["report"] = write_sweep_report(summary, report_dir)
    report = Path(summary["report"])
    create_markdown_artifact(inline_images(report.read_text(), str(report.parent)),
                             key=artifact_key("btk-sweep", strategy, frame_name),
                             description=f"Sweep of {strategy} on {frame_name}")
    create_table_artifact(rounded([{"rank": k, "variant": r["strategy"], **r["params"], metric: r["metric"],
                                    "compounded_return": r["compounded_return"], "trades": r["trades"]}
                                   for k, r in enumerate(summary["ranking"], 1)]),
                          key=artifact_key("btk-sweep-ranking", strategy, frame_name),
                          description=f"Combinations of {strategy} ranked by {metric}")
    best = summary["ranking"][0] if summary["ranking"] else None
    get_run_logger().info("sweep %s: %d combinations x %d symbols; best %s (%s %s)", strategy, len(ranking),
                          len(symbols), best and best["strategy"], metric, best and best["metric"])
    return summary
