"""Training data for the LLM optimizer (SPEC §16.2): paged fetches, conversations, strategy prompts.

The collection is split in two steps so that an orchestrator can run them as separate tasks
(one fetch per train range and source, one prompt per entry) and still get exactly what
``Optimizer.get_data`` returns: :func:`fetch_rows` pages one source over one range, and
:func:`build_entry` turns the rows of a range's sources into the conversation and the prompt.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import clock
from ..errors import BtkError, wrap_user_error
from ..fmt import to_datetime, to_ms
from ..guard import call_user
from ..schemas import OptimizerSchema

log = logging.getLogger("btk")

PAGE_SIZE = 25
MAX_ROWS = 10_000
MIN_REQUEST_GAP_MS = 100

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class OptimizerEntry:
    """One generated strategy's input: the conversation of its train range up to its source, and the
    strategy text ``get_prompt`` wrote from it."""

    symbol: str
    name: str
    messages: list[Message]
    strategy: str


@dataclass(frozen=True, slots=True)
class OptimizerProgress:
    optimizer_name: str
    symbol: str
    total_sources: int
    processed_sources: int
    progress: float


def default_user_message(symbol: str, rows: Sequence[Mapping[str, Any]], name: str) -> str:
    return "Read the data and reply OK\n\n" + json.dumps(list(rows), ensure_ascii=False, separators=(",", ":"),
                                                         default=str)


def default_assistant_message(symbol: str, rows: Sequence[Mapping[str, Any]], name: str) -> str:
    return "OK"


def source_name(source: Any) -> str:
    return (source.get("name") or "unknown") if isinstance(source, Mapping) else "unknown"


def _fetch_fn(source: Any) -> Callable[..., Any]:
    return source["fetch"] if isinstance(source, Mapping) else source


class _RequestGap:
    """At most one request per 100 ms, on the btk clock (so tests run on simulated time)."""

    def __init__(self) -> None:
        self.last: int | None = None

    def wait(self) -> None:
        if self.last is not None:
            gap = self.last + MIN_REQUEST_GAP_MS - clock.now()
            if gap > 0:
                clock.pause(gap / 1000)
        self.last = clock.now()


def fetch_rows(schema: OptimizerSchema, symbol: str, range_index: int, source_index: int) -> list[dict[str, Any]]:
    """All rows of one source over one train range: pages of 25 until a short page, at most 10 000
    rows, deduplicated by ``id`` (first kept); then ``on_source_data``. A failing fetch, an oversized
    page or a row without an ``id`` raises ``BtkError`` naming the source and the page."""
    train = schema.range_train[range_index]
    source = schema.source[source_index]
    name = source_name(source)
    fetch = _fetch_fn(source)
    start = to_datetime(to_ms(train["start_date"], "start_date"))
    end = to_datetime(to_ms(train["end_date"], "end_date"))
    rows: dict[Any, dict[str, Any]] = {}
    gap, fetched = _RequestGap(), 0
    for page in range(MAX_ROWS // PAGE_SIZE):
        gap.wait()
        where = f"optimizer '{schema.optimizer_name}' source '{name}' page {page} ({symbol}, range {range_index})"
        try:
            batch = list(fetch(symbol=symbol, start_date=start, end_date=end, limit=PAGE_SIZE,
                               offset=PAGE_SIZE * page))
        except Exception as exc:
            raise BtkError(f"{where}: fetch raised {type(exc).__name__}: {exc}") from exc
        if len(batch) > PAGE_SIZE:
            raise BtkError(f"{where}: fetch returned {len(batch)} rows, more than the limit {PAGE_SIZE}")
        for k, row in enumerate(batch):
            if not isinstance(row, Mapping) or "id" not in row:
                raise BtkError(f"{where}: row {k} has no 'id' (got {row!r:.80})")
            rows.setdefault(row["id"], dict(row))
        fetched += len(batch)
        if len(batch) < PAGE_SIZE:
            break
    else:
        log.warning("%s: stopped at %d rows (the limit)", name, MAX_ROWS)
    result = list(rows.values())
    callback = schema.callbacks.get("on_source_data")
    if callback:
        call_user(callback, symbol, name, result, start, end, where="on_source_data", symbol=symbol)
    return result


def _builder(schema: OptimizerSchema, source: Any, role: str) -> Callable[..., str]:
    own = source.get(role) if isinstance(source, Mapping) else None
    template = (schema.template or {}).get(f"{role}_message")
    return own or template or (default_user_message if role == "user" else default_assistant_message)


def _text(fn: Callable[..., Any], where: str, *args: Any) -> str:
    try:
        value = fn(*args)
    except Exception as exc:
        raise wrap_user_error(exc, where=where, symbol=args[0]) from exc
    if not isinstance(value, str):
        raise BtkError(f"{where} must return a string, got {type(value).__name__}")
    return value


def build_entry(schema: OptimizerSchema, symbol: str,
                range_rows: Sequence[Sequence[Mapping[str, Any]]]) -> OptimizerEntry:
    """The entry of the last source in ``range_rows`` (the rows of one train range's sources 0..j):
    its conversation (a user and an assistant message per source) and ``get_prompt``'s strategy."""
    messages: list[Message] = []
    for source, rows in zip(schema.source, range_rows):
        name = source_name(source)
        messages.append({"role": "user", "content": _text(_builder(schema, source, "user"), f"user message of '{name}'",
                                                          symbol, rows, name)})
        messages.append({"role": "assistant", "content": _text(_builder(schema, source, "assistant"),
                                                               f"assistant message of '{name}'", symbol, rows, name)})
    name = source_name(schema.source[len(range_rows) - 1])
    strategy = _text(schema.get_prompt, "get_prompt", symbol, [dict(m) for m in messages])
    return OptimizerEntry(symbol=symbol, name=name, messages=messages, strategy=strategy)
