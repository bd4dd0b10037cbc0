"""The generated module's LLM call (SPEC §16.3) through the real ``ollama`` client and a fake server."""
from __future__ import annotations

import json
import socket

import ollama
import pytest

import btk_core as bt
from btk_core.errors import UserCodeError
from tests.fakes.ollama import FakeOllama

from .generated import generate


@pytest.fixture
def fake_ollama(monkeypatch):
    with FakeOllama() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.host)
        monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MARKET = [{"role": "user", "content": "BTCUSDT 1m\n2024-06-03T08:00:00+00:00[1m]: O:100 H:101 L:99 C:100.5 V:3"}]


def test_chat_request_and_answer(tmp_path, fake_ollama):
    module = generate(tmp_path, ["p"])
    answer = module.llm_json(MARKET)
    body = fake_ollama.chats()[0]
    assert body["model"] == "deepseek-v3.1:671b" and body["stream"] is False
    assert body["format"] == module.SIGNAL_SCHEMA
    assert body["format"]["required"] == ["position", "note", "price_open", "price_take_profit", "price_stop_loss",
                                          "minute_estimated_time"]
    assert body["messages"][0] == {"role": "system", "content": module.SYSTEM_PROMPT}
    assert body["messages"][1:] == MARKET
    for phrase in ('"wait"', "price_open", "at most 360", "JSON"):
        assert phrase in module.SYSTEM_PROMPT
    assert set(answer) == set(module.SIGNAL_FIELDS) and answer["position"] in ("wait", "long", "short")
    assert answer == module.llm_json(MARKET)  # deterministic


def test_host_from_the_schema_and_bearer_from_the_environment(tmp_path, fake_ollama, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:1")  # would fail if used
    monkeypatch.setenv("OLLAMA_API_KEY", "secret-key")
    module = generate(tmp_path, ["p"], host=fake_ollama.host, model="fake-model")
    module.llm_json(MARKET)
    request = fake_ollama.requests[0]
    assert request["headers"]["authorization"] == "Bearer secret-key"
    assert request["body"]["model"] == "fake-model"


def test_unknown_model_fails_without_retry(tmp_path, fake_ollama):
    module = generate(tmp_path, ["p"], model="no-such-model")
    with pytest.raises(ollama.ResponseError, match="not found") as info:
        module.llm_json(MARKET)
    assert info.value.status_code == 404 and len(fake_ollama.chats()) == 1


def test_server_error_then_success_is_retried(tmp_path, fake_ollama):
    module = generate(tmp_path, ["p"])
    fake_ollama.script.append((500, {"error": "overloaded"}))
    assert module.llm_json(MARKET)["position"] in ("wait", "long", "short")
    assert len(fake_ollama.chats()) == 2


def test_persistent_server_errors_give_up_after_three_attempts(tmp_path, fake_ollama):
    module = generate(tmp_path, ["p"])
    fake_ollama.script.extend([(503, {"error": "busy"})] * 3)
    with pytest.raises(ollama.ResponseError, match="busy"):
        module.llm_json(MARKET)
    assert len(fake_ollama.chats()) == 3


def test_connection_refused_names_the_host(tmp_path, monkeypatch):
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("OLLAMA_HOST", host)
    module = generate(tmp_path, ["p"])
    with pytest.raises(ConnectionError, match=f"cannot reach Ollama at {host}"):
        module.llm_json(MARKET)


BAD_ANSWERS = {
    "invalid JSON": "Sure! Here is the signal: {position: long}",
    "missing fields": json.dumps({"position": "long", "note": "x"}),
    "NaN": '{"position": "long", "note": "x", "price_open": NaN, "price_take_profit": 1, "price_stop_loss": 1, '
           '"minute_estimated_time": 60}',
    "text in numbers": json.dumps({"position": "long", "note": "x", "price_open": "100", "price_take_profit": 101,
                                   "price_stop_loss": 99, "minute_estimated_time": 60}),
    "unknown position": json.dumps({"position": "buy", "note": "x", "price_open": 100, "price_take_profit": 101,
                                    "price_stop_loss": 99, "minute_estimated_time": 60}),
    "not an object": "[1, 2, 3]",
}


@pytest.mark.parametrize("kind", list(BAD_ANSWERS))
def test_bad_answers_are_rejected_with_a_value_error(tmp_path, fake_ollama, kind):
    module = generate(tmp_path, ["p"])
    fake_ollama.script.append(BAD_ANSWERS[kind])
    with pytest.raises(ValueError, match="LLM answer|Expecting|JSON"):
        module.llm_json(MARKET)


def test_bad_answers_in_a_backtest_are_error_events_and_idle_steps(tmp_path, fake_ollama, errors, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = generate(tmp_path, ["p"])
    fake_ollama.script.extend(BAD_ANSWERS.values())
    strategy = bt.list_strategies()[0].strategy_name
    frame = [f for f in bt.list_frames() if f.frame_name.endswith("_test_frame")][0].frame_name
    results = list(bt.Backtest.run(module.SYMBOL, strategy_name=strategy, exchange_name=bt.list_exchanges()[0].exchange_name,
                                   frame_name=frame))
    user_errors = [e for e in errors if isinstance(e, UserCodeError)]
    assert len(user_errors) == len(BAD_ANSWERS)
    assert all(isinstance(e.__cause__, ValueError) and e.where == "get_signal" for e in user_errors)
    assert len(fake_ollama.chats()) > len(BAD_ANSWERS)  # the run went on asking after the bad answers
    assert all(r.action in ("closed", "cancelled") for r in results)


def test_signals_carry_an_id_and_their_conversation_is_dumped(tmp_path, fake_ollama, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = generate(tmp_path, ["p"])
    strategy = bt.list_strategies()[0].strategy_name
    frame = [f for f in bt.list_frames() if f.frame_name.endswith("_test_frame")][0].frame_name
    results = list(bt.Backtest.run(module.SYMBOL, strategy_name=strategy,
                                   exchange_name=bt.list_exchanges()[0].exchange_name, frame_name=frame))
    assert results, "the fake's answers should give at least one trade in an hour"
    for result in results:
        folder = tmp_path / "dump" / "strategy" / result.signal.id
        names = sorted(p.name for p in folder.iterdir())
        assert len(result.signal.id) == 36 and result.signal.note.startswith("fake decision")
        assert names == ["00_system_prompt.md", "01_user_message.md", "02_user_message.md", "03_user_message.md",
                         "04_user_message.md", "05_user_message.md", "06_llm_output.md"]
        assert (folder / "01_user_message.md").read_text().startswith("BTCUSDT: the last 24 candles of 1h\n")
        assert "[1m]: O:" in (folder / "04_user_message.md").read_text()
        assert module.SYSTEM_PROMPT in (folder / "00_system_prompt.md").read_text()


def test_answers_are_data_never_code(tmp_path, fake_ollama, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = generate(tmp_path, ["p"])
    note = "__import__('os').system('touch PWNED') \"\"\" {{ x }} {% raw %}"
    fake_ollama.script.append(json.dumps({"position": "long", "note": note, "price_open": 100.0,
                                          "price_take_profit": 102.0, "price_stop_loss": 98.0,
                                          "minute_estimated_time": 120}))
    assert module.llm_json(MARKET)["note"] == note
    assert not (tmp_path / "PWNED").exists()


def test_flow_retries_only_transient_llm_errors():
    from btk_core.errors import wrap_user_error
    from flows.optimizer import is_transient
    assert is_transient(ConnectionError("refused"))
    assert is_transient(wrap_user_error(ollama.ResponseError("busy", 503), where="get_prompt"))
    assert not is_transient(wrap_user_error(ollama.ResponseError("no model", 404), where="get_prompt"))
    assert not is_transient(ValueError("bad answer"))


def test_the_fake_ignores_streaming_and_answers_one_chunk(fake_ollama):
    """A streaming client still gets a valid answer (one NDJSON line with done=true)."""
    chunks = list(ollama.Client(host=fake_ollama.host).chat(model="fake-model", messages=MARKET, stream=True))
    assert len(chunks) == 1 and chunks[0].done and chunks[0].message.content.startswith("Strategy ")
