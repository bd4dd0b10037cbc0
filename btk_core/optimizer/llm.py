"""Talking to a language model the way a real one answers (SPEC §16.3, §3.5): what the generated modules and the
optimizer setups share.

- :func:`parse_signal_answer` checks a model's JSON like a signal: the answer schema, then every number finite
  (``2.578E+3986`` is valid JSON that Python reads as ``inf``), prices positive, take profit and stop loss on
  the right sides of the entry, a whole-minute lifetime within the range the prompt asked and within
  ``CC_MAX_SIGNAL_LIFETIME_MINUTES``. Errors name the field and the value.
- :func:`estimate_tokens` sizes a prompt before it is sent: small models' tokenizers split numbers digit by
  digit, so a candle line costs about one token per character.
- :func:`ollama_chat` makes one chat call: a refused connection is retried twice after short pauses and then
  fails with :class:`OllamaUnreachableError` naming the host (no backoff for a server that is not there);
  server errors (5xx) and timeouts are raised for the caller's backoff.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import BtkError

SIGNAL_FIELDS = ("position", "note", "price_open", "price_take_profit", "price_stop_loss", "minute_estimated_time")
PRICE_FIELDS = ("price_open", "price_take_profit", "price_stop_loss")
DEFAULT_HOST = "http://127.0.0.1:11434"
#: Pauses before the two retries of a refused connection.
REFUSED_RETRY_PAUSES = (0.5, 1.0)
#: Tokens left for the answer on top of the prompt when sizing the model's context (``num_ctx``).
ANSWER_TOKENS = 512


class OllamaUnreachableError(BtkError, ConnectionError):
    """Nothing answers at the Ollama address (after two quick retries): retrying longer would not help."""


def ollama_host(host: str | None = None) -> str:
    """The address a client with ``host`` talks to: itself, else ``OLLAMA_HOST``, else Ollama's default."""
    return host or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST


def _number(answer: Mapping[str, Any], field: str) -> float:
    value = answer[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"LLM answer {field} must be a number, got {value!r:.80}")
    if not math.isfinite(value):
        raise ValueError(f"LLM answer {field} must be a finite number, got {value!r:.80}")
    return float(value)


def parse_signal_answer(text: str, *, max_minutes: int, max_lifetime_minutes: int = 0) -> dict[str, Any]:
    """The model's reply as a signal mapping (``position`` may be ``wait``); ``ValueError`` names what is
    wrong. ``max_minutes`` is the holding time the prompt asked for at most; ``max_lifetime_minutes`` is
    ``CC_MAX_SIGNAL_LIFETIME_MINUTES`` (0: no limit). The reply is parsed as JSON and checked, never evaluated."""
    try:
        answer = json.loads(text.strip())
    except ValueError as exc:
        raise ValueError(f"LLM answer is not JSON ({exc}): {text[:200]!r}") from None
    if not isinstance(answer, dict):
        raise ValueError(f"LLM answer is not a JSON object: {text[:200]!r}")
    missing = [field for field in SIGNAL_FIELDS if field not in answer]
    if missing:
        raise ValueError(f"LLM answer lacks {', '.join(missing)}")
    position = answer["position"]
    if position not in ("wait", "long", "short"):
        raise ValueError(f"LLM answer position must be wait, long or short, got {position!r:.80}")
    if not isinstance(answer["note"], str):
        raise ValueError(f"LLM answer note must be a string, got {answer['note']!r:.80}")
    prices = {field: _number(answer, field) for field in PRICE_FIELDS}
    minutes = _number(answer, "minute_estimated_time")
    if position != "wait":
        for field, value in prices.items():
            if value <= 0:
                raise ValueError(f"LLM answer {field} must be positive, got {answer[field]!r:.80}")
        entry, tp, sl = prices["price_open"], prices["price_take_profit"], prices["price_stop_loss"]
        if position == "long" and not tp > entry > sl:
            raise ValueError(f"LLM answer for a long needs price_take_profit > price_open > price_stop_loss, "
                             f"got {tp:g} / {entry:g} / {sl:g}")
        if position == "short" and not sl > entry > tp:
            raise ValueError(f"LLM answer for a short needs price_stop_loss > price_open > price_take_profit, "
                             f"got {sl:g} / {entry:g} / {tp:g}")
        limit = min(max_minutes, max_lifetime_minutes) if max_lifetime_minutes else max_minutes
        if not (minutes > 0 and minutes == int(minutes) and minutes <= limit):
            raise ValueError(f"LLM answer minute_estimated_time must be a whole number of minutes in 1..{limit}, "
                             f"got {answer['minute_estimated_time']!r:.80}")
    return {field: answer[field] for field in SIGNAL_FIELDS} | {"minute_estimated_time": int(minutes)}


def estimate_tokens(text: str) -> int:
    """A conservative token count: one per digit or sign (small models' tokenizers split numbers digit by
    digit), one per three letters or spaces, plus 5 %. Measured against SmolLM2's tokenizer: candle lines
    2 799 tokens for 3 030 characters (estimated 2 790), prose 240 for 875 (estimated 317)."""
    digits = signs = words = 0
    for ch in text:
        if ch.isdigit():
            digits += 1
        elif ch.isalpha() or ch.isspace():
            words += 1
        else:
            signs += 1
    return math.ceil((digits + signs + words / 3) * 1.05)


def messages_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """:func:`estimate_tokens` of a conversation, with a few tokens per message for the chat template."""
    return sum(estimate_tokens(str(m.get("content", ""))) + 4 for m in messages)


def context_size(prompt_tokens: int) -> int:
    """The ``num_ctx`` to ask for: the prompt, room for the answer, rounded up to 256."""
    return -(-(prompt_tokens + ANSWER_TOKENS) // 256) * 256


def ollama_chat(client: Any, *, host: str | None, model: str, messages: Sequence[Mapping[str, Any]],
                format: Any = None, options: Mapping[str, Any] | None = None) -> Any:
    """``client.chat(...)``; a refused connection is retried twice after short pauses, then
    :class:`OllamaUnreachableError` names the host. Other errors are the client's."""
    for pause in (*REFUSED_RETRY_PAUSES, None):
        try:
            return client.chat(model=model, messages=list(messages), format=format, options=dict(options or {}))
        except ConnectionError as exc:
            if pause is None:
                raise OllamaUnreachableError(f"cannot reach Ollama at {ollama_host(host)}: {exc}") from None
            time.sleep(pause)
    raise AssertionError("unreachable")  # the loop returns or raises


def check_ollama(host: str | None, model: str, timeout: float = 10.0) -> None:
    """Fail fast before a run that needs the model: :class:`OllamaUnreachableError` when nothing answers at the
    address (two quick retries), ``BtkError`` when the server does not have ``model``."""
    import ollama
    client = ollama.Client(host=host, timeout=timeout)
    for pause in (*REFUSED_RETRY_PAUSES, None):
        try:
            client.show(model)
            return
        except ConnectionError as exc:
            if pause is None:
                raise OllamaUnreachableError(f"cannot reach Ollama at {ollama_host(host)}: {exc}") from None
            time.sleep(pause)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise BtkError(f"Ollama at {ollama_host(host)} has no model {model!r} "
                               f"(ollama pull {model})") from None
            raise
