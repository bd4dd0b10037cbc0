"""The Python module the optimizer generates, rendered from ``templates/optimizer`` (SPEC §16.4).

Text from data, users and LLMs must never become code. The render context therefore holds only
integers and :class:`PyLiteral` strings, which only :func:`literal` makes, from ``repr()`` of a
``str``, ``int``, finite ``float``, ``bool`` or ``None``; :func:`checked_context` refuses anything
else before a template sees it. A template (ours or a user's override) can place a value only as
a whole Python literal, so quotes, backslashes, newlines, ``{{ }}`` or ``__import__`` in a prompt
stay inert string contents.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from .. import config
from ..errors import BtkError
from ..fmt import to_ms
from ..reports.render import templates_dir
from ..schemas import OPTIMIZER_SECTIONS, OptimizerSchema
from .data import OptimizerEntry


class PyLiteral(str):
    """The source text of one Python literal; made only by :func:`literal`."""

    __slots__ = ()


def literal(value: Any) -> PyLiteral:
    """``repr(value)`` for the value types a generated module may contain; anything else raises."""
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return PyLiteral(repr(value))
    raise BtkError(f"optimizer code generation: {type(value).__name__} value {value!r:.60} cannot be a literal")


def checked_context(value: Any, where: str = "context") -> Any:
    """``value`` if every leaf is an int or a :class:`PyLiteral` (in dicts and lists); else ``BtkError``."""
    if isinstance(value, PyLiteral) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, Mapping):
        return {k: checked_context(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [checked_context(v, f"{where}[{k}]") for k, v in enumerate(value)]
    raise BtkError(f"optimizer code generation: {where} is a raw {type(value).__name__}, not a literal")


def name_prefix(optimizer_name: str, symbol: str) -> str:
    """``P`` of §16.4: the prefix of every schema name the module registers."""
    return "o" + hashlib.sha256(f"{optimizer_name}:{symbol}".encode()).hexdigest()[:8]


def render_context(schema: OptimizerSchema, symbol: str, entries: Sequence[OptimizerEntry]) -> dict[str, Any]:
    p = name_prefix(schema.optimizer_name, symbol)

    def frame(name: str, r: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": literal(name), "start": literal(to_ms(r["start_date"], "start_date")),
                "end": literal(to_ms(r["end_date"], "end_date")), "note": literal(r.get("note"))}

    strategies = [{"index": k, "name": literal(f"{p}_strategy-{k}"), "prompt": literal(e.strategy),
                   "note": literal(f"from source {e.name}, train range {k // len(schema.source)}")}
                  for k, e in enumerate(entries)]
    return checked_context({
        "optimizer_name": literal(schema.optimizer_name), "symbol": literal(symbol), "model": literal(schema.model),
        "host": literal(schema.host), "prefix": literal(p), "exchange_name": literal(f"{p}_exchange"),
        "train_frames": [{"index": k, **frame(f"{p}_train_frame-{k}", r)} for k, r in enumerate(schema.range_train)],
        "test_frame": frame(f"{p}_test_frame", schema.range_test),
        "strategies": strategies, "walker_name": literal(f"{p}_walker"),
        "max_prompt_tokens": config.value("CC_OPTIMIZER_MAX_PROMPT_TOKENS"),
    })


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "optimizer")),
                              undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def render_module(schema: OptimizerSchema, symbol: str, entries: Sequence[OptimizerEntry]) -> str:
    """The generated module's source, checked with ``compile()`` (a failure raises ``BtkError``)."""
    import jinja2
    context = render_context(schema, symbol, entries)
    overrides = schema.template or {}
    env = _environment()
    parts = []
    for section in OPTIMIZER_SECTIONS:
        source = overrides.get(section)
        try:
            template = env.from_string(source) if isinstance(source, str) else env.get_template(f"{section}.py.j2")
            parts.append(template.render(**context).strip("\n"))
        except jinja2.TemplateError as exc:
            raise BtkError(f"optimizer template section '{section}' failed: {exc}") from exc
    code = "\n\n\n".join(parts) + "\n"
    try:
        compile(code, "<optimizer>", "exec")
    except SyntaxError as exc:
        raise BtkError(f"generated optimizer module does not compile: {exc}") from exc
    return code
