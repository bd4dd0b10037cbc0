"""Build and import optimizer-generated modules for tests (synthetic exchange instead of Binance)."""
from __future__ import annotations

import importlib.util
import itertools
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import btk_core as bt

SYNTHETIC = """from btk_core.exchanges import add_synthetic_exchange

add_synthetic_exchange({{ exchange_name }})
"""
TRAIN = {"start_date": datetime(2024, 5, 1, tzinfo=UTC), "end_date": datetime(2024, 5, 2, tzinfo=UTC)}
TEST = {"start_date": datetime(2024, 6, 3, 8, tzinfo=UTC), "end_date": datetime(2024, 6, 3, 9, tzinfo=UTC)}
_names = itertools.count()


def register_optimizer(prompts: list[str], *, name: str = "gen", symbol_rows: Any = None, synthetic: bool = True,
                       **kwargs: Any) -> None:
    """An optimizer with one train range and one source per prompt; ``get_prompt`` returns them in order."""
    answers = iter(prompts)
    sources = [{"name": f"src-{k}", "fetch": lambda **kw: (symbol_rows or [{"id": 1}]) if kw["offset"] == 0 else []}
               for k in range(len(prompts))]
    template = {"exchange": SYNTHETIC} if synthetic else {}
    template.update(kwargs.pop("template", {}))
    options = {"range_train": [TRAIN], "range_test": TEST, **kwargs}
    bt.add_optimizer(optimizer_name=name, source=sources, get_prompt=lambda symbol, messages: next(answers),
                     template=template, **options)


def import_module(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"btk_generated_{next(_names)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(tmp_path: Path, prompts: list[str], symbol: str = "BTCUSDT", **kwargs: Any) -> ModuleType:
    """Register, dump and import a generated module."""
    register_optimizer(prompts, **kwargs)
    return import_module(bt.Optimizer.dump(symbol, optimizer_name=kwargs.get("name", "gen"), path=str(tmp_path)))
