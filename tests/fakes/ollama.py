"""A fake Ollama server on 127.0.0.1 (stdlib), spoken to by the real ``ollama`` client.

``POST /api/chat`` answers one JSON object (``stream`` is ignored: a one-line answer is also a valid
NDJSON stream) with ``message: {role, content}``, ``done: true``. Answers are deterministic:
- with a JSON-schema ``format``: a signal object holding exactly the schema's required fields, built
  from the last ``C:<close>`` in the conversation; the position (wait/long/short) comes from a hash
  of the conversation, so the same market gives the same answer;
- without ``format``: a short strategy text naming the hash.
Unknown models get HTTP 404 ``{"error": ...}``. ``script`` queues what the next requests get instead:
``(status, body)`` for an HTTP error, or a string used as the message content (invalid JSON, NaN...).
Every request body and its headers are kept in ``requests``.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import deque
from typing import Any

from tests.fakes.http import JsonHandler, LocalServer

CLOSE = re.compile(r"C:([0-9.eE+-]+)")


def signal_answer(messages: list[dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]:
    text = "\n".join(str(m.get("content", "")) for m in messages)
    closes = CLOSE.findall(text)
    price = float(closes[-1]) if closes else 100.0
    choice = int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3
    position = ("wait", "long", "short")[choice]
    up, down = (1.012, 0.992) if position != "short" else (0.988, 1.008)
    answer = {"position": position, "note": f"fake decision {choice}", "price_open": round(price, 2),
              "price_take_profit": round(price * up, 2), "price_stop_loss": round(price * down, 2),
              "minute_estimated_time": 120}
    return {k: answer.get(k, "") for k in schema.get("required", answer)}


class FakeOllama(LocalServer):
    def __init__(self, models: tuple[str, ...] = ("deepseek-v3.1:671b", "fake-model")) -> None:
        self.models = set(models)
        self.script: deque[Any] = deque()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path == "/api/show":  # what a preflight asks: is the model there?
                    name = body.get("model") or body.get("name")
                    if name in outer.models:
                        return self.reply(200, {"modelfile": "", "details": {"family": "fake"}, "model_info": {}})
                    return self.reply(404, {"error": f"model '{name}' not found"})
                with outer.lock:
                    outer.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                    scripted = outer.script.popleft() if outer.script else None
                if self.path != "/api/chat":
                    return self.reply(404, {"error": f"no route {self.path}"})
                if isinstance(scripted, tuple):
                    return self.reply(*scripted)
                if body.get("model") not in outer.models:
                    return self.reply(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
                if isinstance(scripted, str):
                    content = scripted
                elif isinstance(body.get("format"), dict):
                    content = json.dumps(signal_answer(body["messages"], body["format"]))
                else:
                    digest = hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()[:8]
                    content = f"Strategy {digest}: buy strength after a pullback, sell weakness after a bounce."
                self.reply(200, {"model": body["model"], "created_at": "2026-01-01T00:00:00Z",
                                 "message": {"role": "assistant", "content": content},
                                 "done": True, "done_reason": "stop"})

        super().__init__(Handler)
        self.host = self.url

    def chats(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["body"] for r in self.requests if r["path"] == "/api/chat"]
