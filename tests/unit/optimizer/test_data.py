"""Optimizer data collection (SPEC §16.2): paging, limits, dedup, rate limit, conversations, events."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import btk_core as bt
from btk_core.errors import BtkError, SchemaValidationError, UnknownNameError, UserCodeError

START, END = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)
RANGES = [{"start_date": START, "end_date": END}, {"start_date": datetime(2024, 5, 8), "end_date": datetime(2024, 5, 9)}]


class PagedSource:
    """``count`` rows with ids 0..count-1 served by offset; records every call."""

    def __init__(self, count: int, name: str = "rows", page_override: dict | None = None) -> None:
        self.count, self.name, self.calls = count, name, []
        self.page_override = page_override or {}

    def __call__(self, *, symbol, start_date, end_date, limit, offset):
        self.calls.append({"symbol": symbol, "start_date": start_date, "end_date": end_date, "limit": limit,
                           "offset": offset})
        if offset in self.page_override:
            return self.page_override[offset]
        return [{"id": k, "value": k * 10} for k in range(offset, min(offset + limit, self.count))]


def register(source, *, get_prompt=None, ranges=None, **kwargs):
    prompts = []

    def default_prompt(symbol, messages):
        prompts.append([dict(m) for m in messages])
        return f"strategy {len(prompts)} for {symbol}"

    bt.add_optimizer(optimizer_name="opt", range_train=ranges or RANGES[:1], range_test=RANGES[1],
                     source=source if isinstance(source, list) else [source],
                     get_prompt=get_prompt or default_prompt, **kwargs)
    return prompts


def test_pages_of_25_until_a_short_page(fake_clock):
    source = PagedSource(60)
    register(source)
    rows = bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=0)
    assert [c["offset"] for c in source.calls] == [0, 25, 50]
    assert all(c["limit"] == 25 and c["symbol"] == "BTCUSDT" for c in source.calls)
    assert source.calls[0]["start_date"] == START and source.calls[0]["end_date"] == END
    assert [r["id"] for r in rows] == list(range(60))


def test_a_full_last_page_costs_one_empty_request(fake_clock):
    source = PagedSource(50)
    register(source)
    bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=0)
    assert [c["offset"] for c in source.calls] == [0, 25, 50]


def test_at_most_one_request_per_100_ms_on_the_btk_clock(fake_clock):
    times = []
    source = PagedSource(80)
    register(lambda **kw: (times.append(fake_clock.now), source(**kw))[1])
    bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=0)
    assert len(times) == 4
    assert all(b - a >= 100 for a, b in zip(times, times[1:]))


def test_rows_are_deduplicated_by_id_first_kept(fake_clock):
    source = PagedSource(30, page_override={25: [{"id": 3, "value": "late"}, {"id": 99, "value": 1}]})
    register(source)
    rows = bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=0)
    assert [r["id"] for r in rows] == list(range(25)) + [99]
    assert rows[3]["value"] == 30


def test_an_oversized_page_raises_naming_the_source(fake_clock):
    register({"name": "news", "fetch": lambda **kw: [{"id": k} for k in range(26)]})
    with pytest.raises(BtkError, match=r"source 'news' page 0.*26 rows, more than the limit 25"):
        bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=0)


def test_at_most_10000_rows(fake_clock):
    source = PagedSource(20_000)
    register(source)
    rows = bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=0)
    assert len(rows) == 10_000 and len(source.calls) == 400


def test_a_row_without_id_and_a_failing_fetch_raise_with_the_page(fake_clock):
    register([{"name": "no-id", "fetch": lambda **kw: [{"value": 1}]},
              {"name": "broken", "fetch": lambda **kw: 1 / 0}])
    with pytest.raises(BtkError, match="source 'no-id' page 0.*row 0 has no 'id'"):
        bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=0)
    with pytest.raises(BtkError, match="source 'broken' page 0.*ZeroDivisionError"):
        bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=1)


def test_entries_hold_the_conversation_of_their_range_up_to_their_source(fake_clock):
    a, b = PagedSource(2, "a"), PagedSource(1, "b")
    prompts = register([{"name": "a", "fetch": a}, b], ranges=RANGES)
    entries = bt.Optimizer.get_data("BTCUSDT", optimizer_name="opt")
    assert [(e.symbol, e.name) for e in entries] == [("BTCUSDT", "a"), ("BTCUSDT", "unknown")] * 2
    assert [e.strategy for e in entries] == [f"strategy {k} for BTCUSDT" for k in range(1, 5)]
    assert [len(e.messages) for e in entries] == [2, 4, 2, 4]  # each range starts a new conversation
    assert prompts[1] == entries[1].messages
    user, assistant = entries[0].messages
    assert user == {"role": "user", "content": 'Read the data and reply OK\n\n[{"id":0,"value":0},{"id":1,"value":10}]'}
    assert assistant == {"role": "assistant", "content": "OK"}
    assert b.calls[-1]["start_date"] == datetime(2024, 5, 8, tzinfo=UTC)


def test_default_user_message_is_compact_unicode_json(fake_clock):
    register(lambda **kw: [{"id": 1, "text": "ß “quoted”", "when": datetime(2024, 1, 1)}] if kw["offset"] == 0 else [])
    entry = bt.Optimizer.get_data("BTCUSDT", optimizer_name="opt")[0]
    body = entry.messages[0]["content"].split("\n\n", 1)[1]
    assert body == '[{"id":1,"text":"ß “quoted”","when":"2024-01-01 00:00:00"}]'
    assert json.loads(body)[0]["text"] == "ß “quoted”"


def test_message_builders_source_first_then_template_then_default(fake_clock):
    own = {"name": "own", "fetch": PagedSource(1), "user": lambda s, rows, name: f"own {name} {len(rows)}",
           "assistant": lambda s, rows, name: "got it"}
    register([own, PagedSource(1)], template={"user_message": lambda s, rows, name: f"tpl {s} {name}"})
    messages = bt.Optimizer.get_data("BTCUSDT", optimizer_name="opt")[-1].messages
    assert [m["content"] for m in messages] == ["own own 1", "got it", "tpl BTCUSDT unknown", "OK"]


def test_progress_before_each_source_then_complete_and_callbacks(fake_clock):
    seen, calls = [], []
    bt.listen_optimizer_progress(seen.append)
    callbacks = {"on_source_data": lambda *a: calls.append(("source", a[0], a[1], len(a[2]), a[3], a[4])),
                 "on_data": lambda symbol, entries: calls.append(("data", symbol, len(entries)))}
    register([PagedSource(3), PagedSource(1)], ranges=RANGES, callbacks=callbacks)
    bt.Optimizer.get_data("ETHUSDT", optimizer_name="opt")
    assert [(p.processed_sources, p.total_sources, p.progress) for p in seen] == [
        (0, 4, 0.0), (1, 4, 0.25), (2, 4, 0.5), (3, 4, 0.75), (4, 4, 1.0)]
    assert seen[0].optimizer_name == "opt" and seen[0].symbol == "ETHUSDT"
    assert calls[0] == ("source", "ETHUSDT", "unknown", 3, START, END)
    assert calls[-1] == ("data", "ETHUSDT", 4)


def test_get_prompt_errors_name_the_builder(fake_clock):
    register(PagedSource(1), get_prompt=lambda symbol, messages: 1 / 0)
    with pytest.raises(UserCodeError, match="get_prompt raised ZeroDivisionError"):
        bt.Optimizer.get_data("BTCUSDT", optimizer_name="opt")
    bt.add_optimizer(optimizer_name="bad-type", range_train=RANGES[:1], range_test=RANGES[1],
                     source=[PagedSource(1)], get_prompt=lambda symbol, messages: None)
    with pytest.raises(BtkError, match="get_prompt must return a string, got NoneType"):
        bt.Optimizer.get_data("BTCUSDT", optimizer_name="bad-type")


def test_unknown_optimizer_and_bad_templates():
    with pytest.raises(UnknownNameError, match="optimizer 'nope' not found"):
        bt.Optimizer.get_data("BTCUSDT", optimizer_name="nope")
    with pytest.raises(SchemaValidationError, match="template key 'footer' is not one of"):
        register(PagedSource(1), template={"footer": "x"})
    with pytest.raises(SchemaValidationError, match=r"template\['strategy'\] must be jinja2 source text"):
        register(PagedSource(1), template={"strategy": 42})
    with pytest.raises(SchemaValidationError, match=r"template\['user_message'\] must be callable"):
        register(PagedSource(1), template={"user_message": "text"})


def test_step_by_step_api_rejects_bad_indexes(fake_clock):
    register(PagedSource(1))
    with pytest.raises(ValueError, match=r"range_index must be an int in 0..0, got 1"):
        bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=1, source_index=0)
    with pytest.raises(ValueError, match=r"source_index must be an int in 0..0, got -1"):
        bt.Optimizer.get_rows("BTCUSDT", optimizer_name="opt", range_index=0, source_index=-1)
    with pytest.raises(ValueError, match=r"range_rows must hold the rows of sources 0..j \(1 to 1 lists\), got 0"):
        bt.Optimizer.get_entry("BTCUSDT", optimizer_name="opt", range_rows=[])
