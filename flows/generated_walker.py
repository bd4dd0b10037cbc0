"""Run the walker of a module the optimizer generated, in its own process, and print a JSON summary.

    python -m flows.generated_walker <module.py> --report-dir ./dump

The module is imported (not run as ``__main__``), which registers its exchange, frames, strategies and
walker; then its walker runs on the module's ``SYMBOL``. The last line of stdout is the summary: the
ranking by the walker's metric, the report path and how many errors the run reported (an LLM answer
that is not a valid signal is an error event and an idle step, not a failure). Running generated code
in a child process keeps the caller's registry clean and its process safe from what the code does.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.generated_walker")
    parser.add_argument("module", help="the generated .py file")
    parser.add_argument("--report-dir", default="./dump")
    args = parser.parse_args(argv)
    import btk_core as bt
    errors: list[str] = []
    bt.listen_error(lambda exc: errors.append(f"{type(exc).__name__}: {exc}"))
    spec = importlib.util.spec_from_file_location("btk_generated_strategies", args.module)
    if spec is None or spec.loader is None:
        print(f"cannot import {args.module}", file=sys.stderr)
        return 2
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    walker = module.WALKER_NAME
    for _ in bt.Walker.run(module.SYMBOL, walker_name=walker):
        pass
    results = bt.Walker.get_data(module.SYMBOL, walker)
    report = bt.Walker.dump(module.SYMBOL, walker, path=str(Path(args.report_dir) / "walker"))
    complete = results.complete
    assert complete is not None  # the walker ran to its end above
    ranking = sorted(((c.strategy_name, c.metric_value, c.stats.total_signals) for c in results.strategies),
                     key=lambda r: (r[1] is None, -(r[1] or 0.0)))
    print(json.dumps({"symbol": module.SYMBOL, "walker_name": walker, "metric": complete.metric,
                      "best_strategy": complete.best_strategy, "best_metric": complete.best_metric,
                      "ranking": [{"strategy": s, "metric_value": v, "total_signals": n} for s, v, n in ranking],
                      "report": report, "errors": len(errors), "first_errors": errors[:5]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
