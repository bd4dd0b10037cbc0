"""``optimizer_flow``: training data -> LLM strategy prompts -> generated module -> its walker (SPEC §16).

    from flows.optimizer import optimizer_flow
    summary = optimizer_flow("examples/optimizer_setup.py", "llm-synthetic", "BTCUSDT")

One ``collect_source`` task per train range x source (retried on fetch errors), one ``ask_llm`` task
per entry (``get_prompt``, usually an LLM call: retried with exponential backoff when the model cannot
be reached or answers 5xx; a 4xx such as an unknown model fails at once), a ``write_module`` task that
renders and writes the module, and, when ``run_walker``, a ``run_generated_walker`` task that runs the
module's walker on the test range in a child process and publishes the ranking and the walker report
as artifacts. Nothing is cached: each run asks the model again.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from flows.runners import make_task_runner
from flows.setup_loader import load_setup
from flows.tasks import artifact_key, inline_images, rounded

WALKER_TIMEOUT_S = 6 * 3600
LLM_THREADS = 8


def is_transient(exc: BaseException | None) -> bool:
    """A dropped connection, a timeout or a server-side (5xx) answer, anywhere in the exception's cause chain.
    An Ollama that refused every connection (``OllamaUnreachableError``, after its own two quick retries) is
    not: nobody is there, and backing off for a minute would only delay the one line that says so."""
    import ollama

    from btk_core.orchestration import OllamaUnreachableError
    while exc is not None:
        if isinstance(exc, OllamaUnreachableError):
            return False
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return True
        if isinstance(exc, ollama.ResponseError) and exc.status_code >= 500:
            return True
        exc = exc.__cause__
    return False


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    data = state.data
    return is_transient(data if isinstance(data, BaseException) else None)


@task(name="collect_source", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def collect_source(setup: str, optimizer_name: str, symbol: str, range_index: int,
                   source_index: int) -> list[dict[str, Any]]:
    """Every row of one source over one train range."""
    import btk_core as bt
    load_setup(setup)
    return bt.Optimizer.get_rows(symbol, optimizer_name=optimizer_name, range_index=range_index,
                                 source_index=source_index)


@task(name="ask_llm", retries=4, retry_delay_seconds=exponential_backoff(backoff_factor=2),
      retry_jitter_factor=0.5, retry_condition_fn=_retry_transient, cache_policy=NO_CACHE)
def ask_llm(setup: str, optimizer_name: str, symbol: str, range_rows: list[list[dict[str, Any]]]) -> Any:
    """The entry of the last source in ``range_rows``: its conversation and ``get_prompt``'s strategy."""
    import btk_core as bt
    load_setup(setup)
    return bt.Optimizer.get_entry(symbol, optimizer_name=optimizer_name, range_rows=range_rows)


@task(name="write_module", cache_policy=NO_CACHE)
def write_module(setup: str, optimizer_name: str, symbol: str, entries: list[Any], module_dir: str) -> str:
    import btk_core as bt
    load_setup(setup)
    return bt.Optimizer.dump(symbol, optimizer_name=optimizer_name, path=module_dir, entries=entries)


@task(name="run_generated_walker", cache_policy=NO_CACHE)
def run_generated_walker(module_path: str, optimizer_name: str, report_dir: str) -> dict[str, Any]:
    """The generated module's walker on the test range, in a child process; publishes its results."""
    proc = subprocess.run([sys.executable, "-m", "flows.generated_walker", module_path, "--report-dir", report_dir],
                          capture_output=True, text=True, timeout=WALKER_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"the walker of {module_path} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    symbol, metric = summary["symbol"], summary["metric"]
    report = Path(summary["report"])
    create_markdown_artifact(inline_images(report.read_text(), str(report.parent)),
                             key=artifact_key("btk-optimizer", optimizer_name, symbol),
                             description=f"Walker of the strategies {optimizer_name} generated for {symbol}")
    create_table_artifact(rounded([{"rank": k, **row} for k, row in enumerate(summary["ranking"], 1)]),
                          key=artifact_key("btk-optimizer-ranking", optimizer_name, symbol),
                          description=f"Generated strategies ranked by {metric}")
    return summary


def check_optimizer(setup: str, optimizer_name: str) -> Any:
    """The optimizer schema (fails fast with one clear message on an unknown name or a bad setup)."""
    from btk_core.orchestration import lookup
    load_setup(setup)
    return lookup("optimizer", optimizer_name)


@flow(name="btk-optimizer")
def optimizer_flow(setup: str, optimizer_name: str, symbol: str, run_walker: bool = True,
                   module_dir: str = "./dump/optimizer", report_dir: str = "./dump",
                   task_runner: str = "thread") -> dict[str, Any]:
    """Generate strategies with the optimizer's LLM and, when ``run_walker``, rank them on the test range.
    Returns the module path, the strategy count and the walker summary (ranking, report, error count)."""
    schema = check_optimizer(setup, optimizer_name)
    ranges, sources = range(len(schema.range_train)), range(len(schema.source))
    names = {"setup": setup, "optimizer_name": optimizer_name, "symbol": symbol}
    # these tasks mostly wait on sources and on the model: more threads than CPUs pay off here
    with make_task_runner(task_runner, max_workers=LLM_THREADS if task_runner == "thread" else None) as runner:
        rows = {(k, j): runner.submit(collect_source, {**names, "range_index": k, "source_index": j})
                for k in ranges for j in sources}
        entries = [runner.submit(ask_llm, {**names, "range_rows": [rows[(k, i)] for i in range(j + 1)]})
                   for k in ranges for j in sources]
        module = write_module(setup, optimizer_name, symbol, [e.result() for e in entries], module_dir)
    summary = run_generated_walker(module, optimizer_name, report_dir) if run_walker else None
    return {"module": module, "strategies": len(entries), "walker": summary}
