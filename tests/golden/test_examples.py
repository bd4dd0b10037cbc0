"""Every example strategy carries its expected statistics (regression, Lean style).

A change that moves any number fails here. To accept an intended change, run
``BTK_UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff of the JSON file.
"""
import json
import os
from pathlib import Path

import pytest

import btk_core as bt
from flows.demo import DEMO_SETUP
from flows.setup_loader import load_setup, setup_module_name

GOLDEN = Path(__file__).with_name("demo_statistics.json")
FIELDS = ("total_signals", "win_count", "loss_count", "win_rate", "total_pnl", "sharpe_ratio", "std_dev")


@pytest.fixture
def demo():
    import sys
    sys.modules.pop(setup_module_name(str(DEMO_SETUP)), None)  # re-register after the registry was cleared
    return load_setup(str(DEMO_SETUP))


def rounded(value):
    return round(value, 9) if isinstance(value, float) else value


def test_demo_statistics_match_golden(demo):
    got = {}
    for strategy in demo.STRATEGIES:
        for symbol in demo.SYMBOLS:
            list(bt.Backtest.run(symbol, strategy_name=strategy, exchange_name=demo.EXCHANGE, frame_name=demo.FRAME))
            stats = bt.Backtest.get_data(symbol, strategy)
            got[f"{strategy}/{symbol}"] = {f: rounded(getattr(stats, f)) for f in FIELDS}
    if os.environ.get("BTK_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text())
