"""The optimizer against a real language model (SmolLM2-135M behind our Ollama-compatible server): the LLM
contract on real answers, schema-constrained and free, and one end-to-end ``optimizer_flow``."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import ollama
import pytest

import btk_core as bt
from btk_core.optimizer.llm import messages_tokens, parse_signal_answer
from tests.unit.optimizer.generated import generate

pytestmark = pytest.mark.real_llm
ROOT = Path(__file__).resolve().parents[2]
SMALL = str(ROOT / "tests" / "fixtures" / "llm_small_setup.py")
MARKET = [{"role": "system", "content": "Reply with one JSON trading signal."},
          {"role": "user", "content": "BTCUSDT 1m\n2024-06-03T08:00Z[1m]: O:42000 H:42100 L:41950 C:42080 V:3.2\n"
                                      "BTCUSDT rises. Give a long signal with take profit above and stop loss below."}]


def calls(server) -> list[dict]:
    return [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]


def test_schema_constrained_answers_parse_or_fail_with_a_named_field(real_ollama):
    module_schema = {"type": "object", "required": ["position", "note", "price_open", "price_take_profit",
                                                    "price_stop_loss", "minute_estimated_time"],
                     "properties": {"position": {"type": "string", "enum": ["wait", "long", "short"]},
                                    "note": {"type": "string"}, "price_open": {"type": "number"},
                                    "price_take_profit": {"type": "number"}, "price_stop_loss": {"type": "number"},
                                    "minute_estimated_time": {"type": "number"}}}
    client = ollama.Client(host=real_ollama.host, timeout=120)
    for seed in (1, 2, 3):
        reply = client.chat(model=real_ollama.model, messages=MARKET, format=module_schema,
                            options={"seed": seed, "num_predict": 200})
        answer = json.loads(reply.message.content)  # the grammar makes it JSON of the schema
        assert set(answer) >= set(module_schema["required"]) and answer["position"] in ("wait", "long", "short")
        try:
            signal = parse_signal_answer(reply.message.content, max_minutes=360)
        except ValueError as exc:  # what a small model gets wrong, said field by field
            assert "LLM answer" in str(exc)
        else:
            assert all(math.isfinite(signal[f]) for f in ("price_open", "price_take_profit", "price_stop_loss"))


def test_free_text_json_mode_streaming_and_unknown_models(real_ollama):
    client = ollama.Client(host=real_ollama.host, timeout=120)
    text = client.chat(model=real_ollama.model, messages=[{"role": "user", "content": "Name a trading indicator."}],
                       options={"num_predict": 40})
    assert text.message.content.strip() and text.done
    loose = client.chat(model=real_ollama.model, messages=MARKET, format="json", options={"num_predict": 60})
    assert loose.message.content.lstrip().startswith("{")
    chunks = list(client.generate(model=real_ollama.model, prompt="Say hello.", stream=True,
                                  options={"num_predict": 12}))
    assert len(chunks) > 2 and chunks[-1].done and "".join(c.response for c in chunks).strip()
    assert [m.model for m in client.list().models] == [real_ollama.model]
    assert client.show(real_ollama.model).modelinfo["llama.context_length"] == 8192
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="nope:1b", messages=MARKET)
    assert missing.value.status_code == 404


def test_the_prompt_estimate_is_not_below_what_the_model_counts(real_ollama, tmp_path):
    """The budget is only worth something if the estimate does not undercount the real tokenizer."""
    from tests.unit.optimizer.test_llm_answers import messages_at_test_start
    bt.set_config(CC_OPTIMIZER_MAX_PROMPT_TOKENS=2000)  # the full default prompt (~7 000 tokens) takes 40 s here
    module = generate(tmp_path, ["p"])
    request = [{"role": "system", "content": module.SYSTEM_PROMPT}, *messages_at_test_start(module)]
    reply = ollama.Client(host=real_ollama.host, timeout=300).chat(
        model=real_ollama.model, messages=request, options={"num_ctx": 4096, "num_predict": 1})
    assert reply.prompt_eval_count <= messages_tokens(request) <= 1.25 * reply.prompt_eval_count


def test_optimizer_flow_end_to_end_on_the_real_model(ollama_env, prefect_harness, tmp_path, monkeypatch):
    from flows.optimizer import optimizer_flow
    from flows.setup_loader import setup_module_name
    monkeypatch.chdir(tmp_path)
    sys.modules.pop(setup_module_name(SMALL), None)
    before = len(calls(ollama_env))
    summary = optimizer_flow(SMALL, "tiny", "BTCUSDT", module_dir=str(tmp_path / "gen"),
                             report_dir=str(tmp_path / "reports"))
    module = Path(summary["module"])
    assert summary["strategies"] == 1 and module.is_file()
    assert "MAX_PROMPT_TOKENS = 1500" in module.read_text()
    walker = summary["walker"]
    assert [row["strategy"] for row in walker["ranking"]] == [walker["best_strategy"] or walker["ranking"][0]["strategy"]]
    assert Path(walker["report"]).read_text().startswith("# Walker Comparison Report:")
    made = calls(ollama_env)[before:]
    assert 2 <= len(made) <= 6  # one strategy prompt, then one call per due decision of the 20-minute test range
    assert all(c["prompt_eval_count"] + c["eval_count"] <= c["num_ctx"] for c in made)  # nothing was cut
    assert all(c["prompt_eval_count"] < 1500 for c in made)
    # every invalid answer was an error event and an idle step, never a failed run
    assert walker["errors"] <= len(made) - 1
    for error in walker["first_errors"]:
        assert "LLM answer" in error or "Invalid signal" in error, error
    bt.reset_all()


def test_a_client_that_goes_away_stops_the_generation(real_ollama):
    """A streamed answer whose client disconnects stops at once instead of generating to the token cap."""
    import http.client
    import time
    before = len(calls(real_ollama))
    host, port = real_ollama.host.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/api/generate", json.dumps({
        "model": real_ollama.model, "prompt": "Write a long story about markets.", "stream": True,
        "options": {"num_predict": 500, "temperature": 0.8}}), {"Content-Type": "application/json"})
    answer = connection.getresponse()
    assert json.loads(answer.readline())["done"] is False  # it started
    connection.sock.close()
    connection.close()
    deadline = time.monotonic() + 30
    while len(calls(real_ollama)) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    last = calls(real_ollama)[-1]
    assert last["stop"] == "abort" and last["eval_count"] < 500
