"""A model's answer is checked like a signal, and prompts fit the budget (issue: the optimizer against a real
model). The bad answers below are the kind SmolLM2-135M really gave."""
from __future__ import annotations

import json
import logging

import pytest

import btk_core as bt
from btk_core.optimizer.llm import context_size, estimate_tokens, messages_tokens, parse_signal_answer

from .generated import generate

GOOD = {"position": "long", "note": "breakout", "price_open": 100.0, "price_take_profit": 102.0,
        "price_stop_loss": 99.0, "minute_estimated_time": 120}


def answer(**changes) -> str:
    return json.dumps({**GOOD, **changes})


def test_a_good_answer_passes():
    assert parse_signal_answer(answer(), max_minutes=360) == GOOD
    wait = parse_signal_answer(answer(position="wait", price_open=0, minute_estimated_time=0), max_minutes=360)
    assert wait["position"] == "wait"  # a wait needs no consistent prices


@pytest.mark.parametrize("text, message", [
    ('{"position": "long", "note": "", "price_open": 100, "price_take_profit": 2.578E+3986, "price_stop_loss": 99, '
     '"minute_estimated_time": 60}', "price_take_profit must be a finite number, got inf"),
    (answer(price_stop_loss=-2.14), "price_stop_loss must be positive, got -2.14"),
    (answer(price_take_profit=98.0), "long needs price_take_profit > price_open > price_stop_loss, got 98 / 100 / 99"),
    (answer(position="short"), "short needs price_stop_loss > price_open > price_take_profit, got 99 / 100 / 102"),
    (answer(minute_estimated_time=17.624), "minute_estimated_time must be a whole number of minutes in 1..360, "
                                           "got 17.624"),
    (answer(minute_estimated_time=1440), "in 1..360, got 1440"),
    (answer(minute_estimated_time=True), "minute_estimated_time must be a number, got True"),
    (answer(price_open="100"), "price_open must be a number, got '100'"),
    ('Sure! {"position": "long"}', "LLM answer is not JSON"),
    (json.dumps({"position": "long"}), "LLM answer lacks note, price_open"),
])
def test_bad_answers_name_the_field_and_value(text, message):
    with pytest.raises(ValueError, match=None) as caught:
        parse_signal_answer(text, max_minutes=360)
    assert message in str(caught.value)


def test_the_lifetime_limit_of_the_config_applies_too():
    with pytest.raises(ValueError, match="in 1..60, got 120"):
        parse_signal_answer(answer(), max_minutes=360, max_lifetime_minutes=60)


def test_token_estimate_is_conservative_for_numbers_and_prose():
    # measured with SmolLM2's tokenizer: 40 candle lines 2 799 tokens (3 030 chars), prose 240 (875 chars)
    line = "2024-06-03T08:00Z[1m]: O:42012.3 H:42099.1 L:41990.5 C:42050.2 V:12.345"
    assert 0.92 * len(line) <= estimate_tokens(line) <= 1.1 * len(line)  # SmolLM2: 0.924 per character
    prose = "From the data above, write a short intraday trading strategy: when to go long. " * 10
    assert estimate_tokens(prose) < 0.45 * len(prose)
    assert context_size(1000) == 1536 and context_size(7680) == 8192


def test_the_full_prompt_fits_the_default_budget(tmp_path, caplog):
    module = generate(tmp_path, ["p"])
    assert module.MAX_PROMPT_TOKENS == bt.get_config()["CC_OPTIMIZER_MAX_PROMPT_TOKENS"] == 8000
    with caplog.at_level(logging.INFO, "btk.optimizer"):
        messages = messages_at_test_start(module)
    heads = [m["content"].splitlines()[0] for m in messages if m["role"] == "user"]
    assert heads == ["BTCUSDT: the last 24 candles of 1h", "BTCUSDT: the last 24 candles of 15m",
                     "BTCUSDT: the last 24 candles of 5m", "BTCUSDT: the last 30 candles of 1m"]
    assert "prompt for BTCUSDT: ~" in caplog.text and "(24/24/24/30 candles), budget 8000" in caplog.text


def test_a_small_budget_drops_the_oldest_candles_until_the_prompt_fits(tmp_path):
    bt.set_config(CC_OPTIMIZER_MAX_PROMPT_TOKENS=1500)
    module = generate(tmp_path, ["p"])
    messages = messages_at_test_start(module)
    request = [{"role": "system", "content": module.SYSTEM_PROMPT}, *messages,
               {"role": "user", "content": f"p\n\n{module.DECIDE}"}]
    assert messages_tokens(request) <= 1500
    counts = [len(m["content"].splitlines()) - 1 for m in messages if m["role"] == "user"]
    assert min(counts) >= 1 and sum(counts) < 102
    newest = messages[-2]["content"].splitlines()[-1]
    assert newest.startswith("2024-06-03T07:59Z[1m]")  # the newest candles stay


def messages_at_test_start(module):
    """``market_messages`` as the module's strategies see them at the first step of its test frame."""
    frame = next(f for f in bt.list_frames() if f.frame_name.endswith("_test_frame"))
    seen = []
    bt.add_strategy(strategy_name="probe", interval="1m",
                    get_signal=lambda symbol, when: seen.append(module.market_messages(symbol, "p")))
    bt.add_frame(frame_name="probe", interval="1m", start_date=frame.start_ms, end_date=frame.start_ms)
    list(bt.Backtest.run(module.SYMBOL, strategy_name="probe", exchange_name=bt.list_exchanges()[0].exchange_name,
                         frame_name="probe"))
    return seen[0]
