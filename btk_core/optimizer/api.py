"""``Optimizer``: collect training data, write strategy code, dump it (SPEC §16, §17.4).

Besides the three methods of §17.4, ``get_rows`` and ``get_entry`` expose the two steps of
``get_data`` one at a time, and ``get_code``/``dump`` accept entries collected that way, so the
optimizer flow can run each fetch and each prompt as its own retried task.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..errors import BtkError
from ..events import optimizer_progress
from ..fmt import safe_name
from ..guard import call_user
from ..registry import lookup
from ..schemas import OptimizerSchema
from .codegen import render_module
from .data import OptimizerEntry, OptimizerProgress, build_entry, fetch_rows


def _schema(optimizer_name: str) -> OptimizerSchema:
    return lookup("optimizer", optimizer_name)


def _check_index(name: str, value: Any, size: int) -> None:
    if type(value) is not int or not 0 <= value < size:
        raise ValueError(f"{name} must be an int in 0..{size - 1}, got {value!r}")


def _progress(schema: OptimizerSchema, symbol: str, processed: int, total: int) -> None:
    if optimizer_progress.listeners:
        optimizer_progress.emit(OptimizerProgress(schema.optimizer_name, symbol, total, processed, processed / total))


def _callback(schema: OptimizerSchema, name: str, symbol: str, *args: Any) -> None:
    fn = schema.callbacks.get(name)
    if fn:
        call_user(fn, symbol, *args, where=name, symbol=symbol)


class Optimizer:
    """Module-level API of the LLM optimizer."""

    @staticmethod
    def get_rows(symbol: str, *, optimizer_name: str, range_index: int, source_index: int) -> list[dict[str, Any]]:
        """The deduplicated rows of one source over one train range (paged, rate limited)."""
        schema = _schema(optimizer_name)
        _check_index("range_index", range_index, len(schema.range_train))
        _check_index("source_index", source_index, len(schema.source))
        return fetch_rows(schema, symbol, range_index, source_index)

    @staticmethod
    def get_entry(symbol: str, *, optimizer_name: str,
                  range_rows: Sequence[Sequence[Mapping[str, Any]]]) -> OptimizerEntry:
        """The entry for the last of ``range_rows`` (rows of one train range's sources 0..j)."""
        schema = _schema(optimizer_name)
        if not 1 <= len(range_rows) <= len(schema.source):
            raise ValueError(f"range_rows must hold the rows of sources 0..j (1 to {len(schema.source)} lists), "
                             f"got {len(range_rows)}")
        return build_entry(schema, symbol, range_rows)

    @staticmethod
    def get_data(symbol: str, *, optimizer_name: str) -> list[OptimizerEntry]:
        """One entry per train range × source, in order; progress before each source, then ``on_data``."""
        schema = _schema(optimizer_name)
        total = len(schema.range_train) * len(schema.source)
        entries: list[OptimizerEntry] = []
        for k in range(len(schema.range_train)):
            range_rows: list[list[dict[str, Any]]] = []
            for j in range(len(schema.source)):
                _progress(schema, symbol, len(entries), total)
                range_rows.append(fetch_rows(schema, symbol, k, j))
                entries.append(build_entry(schema, symbol, range_rows))
        _progress(schema, symbol, total, total)
        _callback(schema, "on_data", symbol, entries)
        return entries

    @staticmethod
    def get_code(symbol: str, *, optimizer_name: str, entries: Sequence[OptimizerEntry] | None = None) -> str:
        """The generated module (one data collection unless ``entries`` are given); then ``on_code``."""
        schema = _schema(optimizer_name)
        if entries is None:
            entries = Optimizer.get_data(symbol, optimizer_name=optimizer_name)
        if not entries:
            raise BtkError(f"optimizer '{optimizer_name}': no entries to generate strategies from")
        code = render_module(schema, symbol, entries)
        _callback(schema, "on_code", symbol, code)
        return code

    @staticmethod
    def dump(symbol: str, *, optimizer_name: str, path: str = "./",
             entries: Sequence[OptimizerEntry] | None = None) -> str:
        """Write ``<path>/<optimizer>_<symbol>.py`` atomically; then ``on_dump``. Returns the file."""
        schema = _schema(optimizer_name)
        code = Optimizer.get_code(symbol, optimizer_name=optimizer_name, entries=entries)
        target = Path(path) / f"{safe_name(optimizer_name)}_{safe_name(symbol)}.py"
        try:
            atomic_write(target, code.encode("utf-8"))
        except OSError as exc:
            raise BtkError(f"cannot write optimizer module {target}: {exc}") from exc
        _callback(schema, "on_dump", symbol, str(target))
        return str(target)
