"""SPEC §1 configuration rules and messages."""
import pytest

from btk_core import ConfigValidationError, get_config, get_default_config, set_config
from btk_core.config import snapshot


def test_defaults_are_the_spec_table():
    d = get_default_config()
    assert d["CC_PERCENT_FEE"] == 0.1 and d["CC_PERCENT_SLIPPAGE"] == 0.1
    assert d["CC_MIN_TAKEPROFIT_DISTANCE_PERCENT"] == 0.5
    assert d["CC_MAX_STOPLOSS_DISTANCE_PERCENT"] == 20
    assert d["CC_PARTIAL_PROFIT_LEVELS"] == (10, 20, 30, 40, 50, 60, 70, 80, 90)
    assert d["CC_PARTIAL_LOSS_LEVELS"] == (40, 80)
    assert d["CC_SAME_CANDLE_PRIORITY"] == "stop_loss"
    assert d["CC_CANDLE_BLOCK_SIZE"] == 1000
    assert d["CC_PERSIST_BASE_DIR"] == "./dump/data"
    assert d["CC_LIVE_HEARTBEAT_TICKS"] == 15  # SPEC §20: issue 13 (heartbeat line)
    assert d["CC_OPTIMIZER_MAX_PROMPT_TOKENS"] == 8000  # issue 17 (prompts that fit the model)
    assert len(d) == 29


def test_exact_message_of_the_spec_example():
    with pytest.raises(ConfigValidationError) as info:
        set_config(CC_PERCENT_FEE=-1)
    assert str(info.value) == "GLOBAL_CONFIG validation failed:\n  1. CC_PERCENT_FEE must be a finite number >= 0, got -1"


def test_all_failures_in_table_order_and_nothing_changes():
    before = get_config()
    with pytest.raises(ConfigValidationError) as info:
        set_config(CC_LIVE_TICK_TTL_MS=0, CC_PERCENT_SLIPPAGE=float("nan"), CC_SAME_CANDLE_PRIORITY="tp")
    lines = str(info.value).split("\n")
    assert lines[0] == "GLOBAL_CONFIG validation failed:"
    assert lines[1] == "  1. CC_PERCENT_SLIPPAGE must be a finite number >= 0, got nan"
    assert lines[2].startswith("  2. CC_SAME_CANDLE_PRIORITY must be") and lines[2].endswith("got 'tp'")
    assert lines[3] == "  3. CC_LIVE_TICK_TTL_MS must be a positive int, got 0"
    assert get_config() == before


def test_unknown_key_always_raises_even_unsafe():
    for unsafe in (False, True):
        with pytest.raises(ConfigValidationError, match="^unknown config key: CC_NOPE$"):
            set_config(unsafe=unsafe, CC_NOPE=1)


@pytest.mark.parametrize("values, key", [
    ({"CC_MIN_TAKEPROFIT_DISTANCE_PERCENT": 0.39}, "CC_MIN_TAKEPROFIT_DISTANCE_PERCENT"),
    ({"CC_MIN_STOPLOSS_DISTANCE_PERCENT": 20}, "CC_MIN_STOPLOSS_DISTANCE_PERCENT"),
    ({"CC_MAX_SIGNAL_LIFETIME_MINUTES": True}, "CC_MAX_SIGNAL_LIFETIME_MINUTES"),
    ({"CC_MAX_SIGNAL_LIFETIME_MINUTES": 1.0}, "CC_MAX_SIGNAL_LIFETIME_MINUTES"),
    ({"CC_GET_CANDLES_RETRY_COUNT": -1}, "CC_GET_CANDLES_RETRY_COUNT"),
    ({"CC_REPORT_SHOW_SIGNAL_NOTE": 1}, "CC_REPORT_SHOW_SIGNAL_NOTE"),
    ({"CC_PARTIAL_PROFIT_LEVELS": (10, 10)}, "CC_PARTIAL_PROFIT_LEVELS"),
    ({"CC_PARTIAL_LOSS_LEVELS": (0, 50)}, "CC_PARTIAL_LOSS_LEVELS"),
    ({"CC_PARTIAL_LOSS_LEVELS": "40"}, "CC_PARTIAL_LOSS_LEVELS"),
    ({"CC_PERSIST_BASE_DIR": ""}, "CC_PERSIST_BASE_DIR"),
    ({"CC_PERCENT_FEE": True}, "CC_PERCENT_FEE"),
])
def test_each_rule_names_key_and_value(values, key):
    with pytest.raises(ConfigValidationError) as info:
        set_config(**values)
    line = str(info.value).split("\n")[1]
    assert key in line and repr(values[key]) in line


def test_boundaries_pass():
    set_config(CC_MIN_TAKEPROFIT_DISTANCE_PERCENT=0.4)  # equality with 2*0.1 + 2*0.1 passes
    set_config(CC_PARTIAL_PROFIT_LEVELS=[], CC_PARTIAL_LOSS_LEVELS=[50.5, 99.9])
    cfg = get_config()
    assert cfg["CC_PARTIAL_PROFIT_LEVELS"] == () and cfg["CC_PARTIAL_LOSS_LEVELS"] == (50.5, 99.9)


def test_unsafe_allows_zero_distances():
    set_config(unsafe=True, CC_MIN_TAKEPROFIT_DISTANCE_PERCENT=0, CC_MAX_SIGNAL_LIFETIME_MINUTES=0)
    assert get_config()["CC_MIN_TAKEPROFIT_DISTANCE_PERCENT"] == 0


def test_snapshot_is_frozen_and_isolated_from_later_changes():
    snap = snapshot()
    set_config(CC_PERCENT_FEE=0.15)
    assert snap.CC_PERCENT_FEE == 0.1 and snapshot().CC_PERCENT_FEE == 0.15
    with pytest.raises(AttributeError):
        snap.CC_PERCENT_FEE = 1


def test_get_config_returns_a_copy():
    get_config()["CC_PERCENT_FEE"] = 99
    get_default_config()["CC_PERCENT_FEE"] = 99
    assert get_config()["CC_PERCENT_FEE"] == 0.1 == get_default_config()["CC_PERCENT_FEE"]
