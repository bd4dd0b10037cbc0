"""Code generation (SPEC §16.4, §16.5) and its security: data reaches the module only as inert literals."""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

import btk_core as bt
from btk_core.errors import BtkError
from btk_core.optimizer.codegen import checked_context, literal, name_prefix
from btk_core.reports.render import templates_dir

from .generated import generate, register_optimizer

HOSTILE = [
    "it's \"quoted\" and '''triple''' and \"\"\"triple\"\"\"",
    "back\\slash \\n \\' \\x00 end\\",
    "line one\nline two\r\n\tindented\u2028separator\x00nul",
    "{{ exchange_name }} {% for x in strategies %}{{ x }}{% endfor %} {# comment #}",
    "__import__('os').system('touch PWNED')",
    "\"); __import__('os').system('touch PWNED'); (\"",
    "'''\nimport os\nos.system('touch PWNED')\n'''",
    "# comment\nPWNED = 1",
    "x" * 200_000,
]


def structure(code: str) -> dict[str, set]:
    """Everything in a module that could act: names, attributes, calls, imports, definitions."""
    tree = ast.parse(code)
    found: dict[str, set] = {"names": set(), "attributes": set(), "calls": set(), "imports": set(), "defs": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found["names"].add(node.id)
        elif isinstance(node, ast.Attribute):
            found["attributes"].add(node.attr)
        elif isinstance(node, ast.Call):
            found["calls"].add(ast.unparse(node.func))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found["imports"].update(alias.name for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found["defs"].add(node.name)
    return found


def constants(code: str) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_module_sections_names_and_compile(tmp_path):
    register_optimizer(["buy dips", "sell rips"], synthetic=False)
    code = bt.Optimizer.get_code("BTCUSDT", optimizer_name="gen")
    compile(code, "<test>", "exec")
    p = "o" + hashlib.sha256(b"gen:BTCUSDT").hexdigest()[:8]
    assert name_prefix("gen", "BTCUSDT") == p
    for name in (f"{p}_exchange", f"{p}_train_frame-0", f"{p}_test_frame", f"{p}_strategy-0", f"{p}_strategy-1",
                 f"{p}_walker"):
        assert repr(name) in code
    order = [code.index(marker) for marker in ("import ollama", "ccxt.binance", "_train_frame-0", "_test_frame'",
                                               "PROMPT_0 =", "add_walker(", 'if __name__ == "__main__":')]
    assert order == sorted(order)
    assert "PROMPT_1 = 'sell rips'" in code and 'interval="5m"' in code
    assert 'f"{price:.2f}"' in code and 'f"{quantity:.8f}"' in code
    assert "start_date=1714521600000" in code  # dates as int ms


def test_dump_writes_the_module_and_calls_back(tmp_path):
    calls = []
    register_optimizer(["p"], name="my opt/../x", callbacks={"on_code": lambda s, code: calls.append(("code", s)),
                                                               "on_dump": lambda s, path: calls.append(("dump", path))})
    path = bt.Optimizer.dump("BTC/USDT", optimizer_name="my opt/../x", path=str(tmp_path / "out"))
    assert Path(path).parent == tmp_path / "out" and Path(path).suffix == ".py" and "/" not in Path(path).name[:-3]
    assert Path(path).read_text().startswith('"""Strategies written by the btk LLM optimizer.')
    assert calls == [("code", "BTC/USDT"), ("dump", path)]
    assert not list((tmp_path / "out").glob(".tmp-*"))


def test_the_generated_module_registers_everything(tmp_path):
    module = generate(tmp_path, ["a", "b", "c"])
    assert module.SYMBOL == "BTCUSDT" and module.MODEL == "deepseek-v3.1:671b" and module.HOST is None
    assert [s.strategy_name for s in bt.list_strategies()] == [f"{name_prefix('gen', 'BTCUSDT')}_strategy-{k}"
                                                              for k in range(3)]
    assert [s.interval for s in bt.list_strategies()] == ["5m"] * 3
    walker = bt.list_walkers()[0]
    assert walker.walker_name == module.WALKER_NAME and walker.metric == "sharpe_ratio"
    assert list(walker.strategies) == [s.strategy_name for s in bt.list_strategies()]
    test_frame = [f for f in bt.list_frames() if f.frame_name.endswith("_test_frame")][0]
    assert walker.frame_name == test_frame.frame_name and test_frame.interval == "1m"


def test_literals_only_from_plain_values():
    assert literal("a'b") == repr("a'b") and literal(3) == "3" and literal(None) == "None" and literal(1.5) == "1.5"
    for bad in (float("nan"), float("inf"), b"x", ["x"], object()):
        with pytest.raises(BtkError, match="cannot be a literal"):
            literal(bad)
    with pytest.raises(BtkError, match=r"context.items\[0\] is a raw str"):
        checked_context({"items": ["raw"]})


@pytest.mark.parametrize("where", ["prompt", "note", "symbol", "optimizer_name", "model", "host", "rows"])
def test_hostile_text_stays_inert(tmp_path, where):
    benign_kwargs = {"name": "gen", "note": "n", "model": "m", "host": "http://h"}
    benign = register_and_render("BTCUSDT", ["plain"] * 2, **benign_kwargs)
    for k, text in enumerate(HOSTILE):
        from btk_core import registry
        registry.clear_registry()
        kwargs = dict(benign_kwargs)
        symbol, prompts = "BTCUSDT", ["plain"] * 2
        if where == "prompt":
            prompts = [text, "plain"]
        elif where == "symbol":
            symbol = text
        elif where == "rows":
            kwargs["symbol_rows"] = [{"id": text, "text": text}]
        elif where in ("note", "model", "host"):
            kwargs[where] = text
        else:
            kwargs["name"] = text
        code = register_and_render(symbol, prompts, **kwargs)
        compile(code, "<hostile>", "exec")
        assert structure(code) == structure(benign), f"hostile text {k} changed the module's structure"
        assert "PWNED" not in structure(code)["names"]
        if where in ("prompt", "symbol", "model", "host"):
            assert text in constants(code), f"hostile text {k} is not kept verbatim as a string literal"


def register_and_render(symbol: str, prompts: list[str], **kwargs) -> str:
    register_optimizer(prompts, **kwargs)
    return bt.Optimizer.get_code(symbol, optimizer_name=kwargs["name"])


def test_range_notes_are_literals_too():
    note = "'''\n__import__('os').system('touch PWNED')"
    register_optimizer(["p"], range_train=[{"start_date": 0, "end_date": 60_000, "note": note}])
    code = bt.Optimizer.get_code("BTCUSDT", optimizer_name="gen")
    assert note in constants(code) and "system" not in structure(code)["attributes"]


def test_overrides_get_the_same_literal_context():
    strategy = """{% for s in strategies %}
PROMPT_{{ s.index }} = {{ s.prompt }}
add_strategy(strategy_name={{ s.name }}, interval="1m", get_signal=lambda symbol, when: None)
{% endfor %}"""
    register_optimizer(["x') or __import__('os').system('touch PWNED') or ('"], template={"strategy": strategy})
    code = bt.Optimizer.get_code("BTCUSDT", optimizer_name="gen")
    assert 'interval="1m"' in code and "system" not in structure(code)["attributes"]


def test_an_override_that_breaks_the_syntax_fails_before_returning():
    register_optimizer(["p"], template={"launcher": "if __name__ == '__main__'\n    pass"})
    with pytest.raises(BtkError, match="generated optimizer module does not compile"):
        bt.Optimizer.get_code("BTCUSDT", optimizer_name="gen")
    from btk_core import registry
    registry.clear_registry()
    register_optimizer(["p"], template={"walker": "{{ no_such_value }}"})
    with pytest.raises(BtkError, match="section 'walker' failed: 'no_such_value' is undefined"):
        bt.Optimizer.get_code("BTCUSDT", optimizer_name="gen")


def test_templates_never_evaluate_text():
    """Nothing in the generated module calls eval/exec/compile/__import__ (LLM text is only data)."""
    register_optimizer(["p"], synthetic=False)
    calls = structure(bt.Optimizer.get_code("BTCUSDT", optimizer_name="gen"))["calls"]
    assert not calls & {"eval", "exec", "compile", "__import__", "globals", "getattr"}
    for template in (templates_dir() / "optimizer").glob("*.j2"):
        text = template.read_text()
        assert "eval(" not in text and "exec(" not in text and "|safe" not in text
