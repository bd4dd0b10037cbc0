"""Optimizer setup: let an Ollama model write strategies from multi-timeframe market summaries.

Importing this module registers the synthetic exchange and the optimizer ``llm-synthetic``. Each of its
two training days has four sources, one per timeframe (1h, 15m, 5m, 1m), whose rows summarise the last
48 candles of that timeframe before the end of the day. After each source the model is asked to write
a strategy from the conversation so far, so the optimizer generates 2 x 4 = 8 strategies; the walker
of the generated module compares them on the test range.

Run it with ``btk optimize --setup examples/optimizer_setup.py --optimizer llm-synthetic --symbol BTCUSDT``
against a real Ollama (``OLLAMA_HOST``; the model is ``BTK_OLLAMA_MODEL``, default ``deepseek-v3.1:671b``).
"""
from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from btk_core import add_optimizer
from btk_core.exchanges import add_synthetic_exchange, synthetic_candles
from btk_core.exchanges.resample import aggregate
from btk_core.fmt import iso, to_ms

OPTIMIZER = "llm-synthetic"
EXCHANGE = "synthetic"
SYMBOL = "BTCUSDT"
MODEL = os.environ.get("BTK_OLLAMA_MODEL", "deepseek-v3.1:671b")
SUMMARY_CANDLES = 48
TIMEFRAMES = {"1h": 60, "15m": 15, "5m": 5, "1m": 1}

# The generated module reads candles from the same synthetic exchange instead of Binance.
SYNTHETIC_EXCHANGE_SECTION = """from btk_core.exchanges import add_synthetic_exchange

add_synthetic_exchange({{ exchange_name }})
"""


def summary_rows(symbol: str, timeframe: str, end: datetime) -> list[dict[str, Any]]:
    """The last 48 closed candles of ``timeframe`` before ``end``: close, change, range and volume."""
    minutes = TIMEFRAMES[timeframe]
    end_minute = to_ms(end, "end") // 60_000 // minutes * minutes
    start_minute = end_minute - SUMMARY_CANDLES * minutes
    ts, o, h, l, c, v = aggregate(synthetic_candles(symbol, start_minute, SUMMARY_CANDLES * minutes),
                                  minutes * 60_000)
    return [{"id": f"{timeframe}-{int(ts[k])}", "time": iso(int(ts[k])), "timeframe": timeframe,
             "close": round(float(c[k]), 2), "change_pct": round(float(c[k] / o[k] - 1) * 100, 3),
             "range_pct": round(float(h[k] / l[k] - 1) * 100, 3), "volume": round(float(v[k]), 3)}
            for k in range(len(ts))]


def summary_source(timeframe: str) -> dict[str, Any]:
    def fetch(*, symbol: str, start_date: datetime, end_date: datetime, limit: int, offset: int) -> list[dict]:
        return summary_rows(symbol, timeframe, end_date)[offset:offset + limit]

    def user(symbol: str, rows: list[dict], name: str) -> str:
        lines = [f"{symbol}, {timeframe} candles (time, close, change %, range %, volume). Read them and reply OK."]
        lines += [f"{r['time']} C:{r['close']} chg:{r['change_pct']} rng:{r['range_pct']} vol:{r['volume']}"
                  for r in rows]
        return "\n".join(lines)

    return {"name": f"candles-{timeframe}", "fetch": fetch, "user": user,
            "note": f"last {SUMMARY_CANDLES} candles of {timeframe}"}


def get_prompt(symbol: str, messages: list[dict[str, str]]) -> str:
    """Ask the model to turn what it read into a strategy the generated module will follow. The model's context
    (``num_ctx``) is sized to the conversation, so a long one is not cut silently; nothing listening at the
    host fails in seconds with one line naming it (``ollama_chat``)."""
    import ollama

    from btk_core.optimizer.llm import context_size, messages_tokens, ollama_chat
    question = (f"From the {symbol} data above, write a short intraday trading strategy: when to go long, "
                "when to go short, when to wait, and where to put take-profit and stop-loss. Plain text.")
    request = [*messages, {"role": "user", "content": question}]
    client = ollama.Client(host=os.environ.get("OLLAMA_HOST"), timeout=300)
    answer = ollama_chat(client, host=None, model=MODEL, messages=request,
                         options={"num_ctx": context_size(messages_tokens(request)), "num_predict": 400})
    return answer.message.content or ""


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


add_synthetic_exchange(EXCHANGE)
add_optimizer(
    optimizer_name=OPTIMIZER,
    range_train=[{"start_date": day("2024-05-01"), "end_date": day("2024-05-02"), "note": "calm day"},
                 {"start_date": day("2024-05-08"), "end_date": day("2024-05-09"), "note": "a week later"}],
    range_test={"start_date": day("2024-06-03T08:00:00"), "end_date": day("2024-06-03T14:00:00")},
    source=[summary_source(tf) for tf in TIMEFRAMES],
    get_prompt=get_prompt,
    template={"exchange": SYNTHETIC_EXCHANGE_SECTION},
    model=MODEL,
    note="strategies written by an LLM from 1h/15m/5m/1m summaries of the synthetic market",
)
