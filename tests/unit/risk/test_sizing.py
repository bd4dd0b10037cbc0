"""SPEC §11 position sizing: every worked number, caps order, errors, on_calculate."""
import math

import pytest

import btk_core as bt
from btk_core.sizing import PositionSize


@pytest.fixture(autouse=True)
def schemas():
    bt.add_sizing(sizing_name="fixed", method="fixed-percentage", risk_percentage=2)
    bt.add_sizing(sizing_name="kelly", method="kelly-criterion")
    bt.add_sizing(sizing_name="atr", method="atr-based", risk_percentage=2)


def test_worked_examples():
    assert PositionSize.fixed_percentage("BTC", 10000, 50000, 49000, sizing_name="fixed") == 0.2
    assert PositionSize.kelly_criterion("BTC", 10000, 50000, 0.55, 1.5, sizing_name="kelly") == 0.012500000000000002
    assert PositionSize.kelly_criterion("BTC", 10000, 50000, 0.3, 1.0, sizing_name="kelly") == 0
    assert PositionSize.atr_based("BTC", 10000, 50000, 500, sizing_name="atr") == 0.2


def test_caps_in_order():
    bt.add_sizing(sizing_name="capped", method="fixed-percentage", risk_percentage=50, max_position_percentage=10,
                  min_position_size=0.001, max_position_size=0.5)
    assert PositionSize.fixed_percentage("BTC", 10000, 50000, 49000, sizing_name="capped") == 0.02
    bt.add_sizing(sizing_name="floor", method="fixed-percentage", risk_percentage=0.01, min_position_size=0.001)
    assert PositionSize.fixed_percentage("BTC", 10000, 50000, 49900, sizing_name="floor") == 0.01
    bt.add_sizing(sizing_name="tiny", method="fixed-percentage", risk_percentage=0.0001, min_position_size=0.5,
                  max_position_size=0.3)
    assert PositionSize.fixed_percentage("BTC", 10000, 50000, 49000, sizing_name="tiny") == 0.3  # max after min


def test_kelly_multiplier_and_atr_multiplier():
    bt.add_sizing(sizing_name="half_kelly", method="kelly-criterion", kelly_multiplier=0.5)
    k = (0.55 * 1.5 - 0.45) / 1.5
    assert PositionSize.kelly_criterion("BTC", 10000, 50000, 0.55, 1.5, sizing_name="half_kelly") == \
        10000 * k * 0.5 / 50000
    bt.add_sizing(sizing_name="atr3", method="atr-based", risk_percentage=1, atr_multiplier=3)
    assert PositionSize.atr_based("BTC", 10000, 50000, 100, sizing_name="atr3") == 10000 * 1 / 100 / (100 * 3)


@pytest.mark.parametrize("call, message", [
    (lambda: PositionSize.fixed_percentage("B", 10000, 50000, 50000, sizing_name="fixed"),
     "Stop-loss distance cannot be zero"),
    (lambda: PositionSize.kelly_criterion("B", 10000, 50000, 1.0, 1.5, sizing_name="kelly"),
     "win_rate must be between 0 and 1"),
    (lambda: PositionSize.kelly_criterion("B", 10000, 50000, 0, 1.5, sizing_name="kelly"),
     "win_rate must be between 0 and 1"),
    (lambda: PositionSize.kelly_criterion("B", 10000, 50000, 0.5, 0, sizing_name="kelly"),
     "win_loss_ratio must be positive"),
    (lambda: PositionSize.atr_based("B", 10000, 50000, 0, sizing_name="atr"), "ATR must be positive"),
    (lambda: PositionSize.atr_based("B", 10000, 50000, -1, sizing_name="atr"), "ATR must be positive"),
    (lambda: PositionSize.atr_based("B", 10000, 50000, 100, sizing_name="kelly"),
     "sizing 'kelly' is configured as 'kelly-criterion' but 'atr-based' was requested"),
    (lambda: PositionSize.fixed_percentage("B", -5, 50000, 49000, sizing_name="fixed"),
     "balance must be a positive finite number, got -5"),
    (lambda: PositionSize.fixed_percentage("B", 10000, math.nan, 49000, sizing_name="fixed"),
     "price_open must be a positive finite number, got nan"),
])
def test_errors(call, message):
    with pytest.raises(bt.SizingError) as info:
        call()
    assert str(info.value) == message


def test_unknown_sizing_name():
    with pytest.raises(bt.UnknownNameError, match="sizing 'nope' not found"):
        PositionSize.fixed_percentage("B", 1, 1, 0.5, sizing_name="nope")


def test_on_calculate_sees_the_final_quantity(errors):
    seen = []
    bt.add_sizing(sizing_name="watched", method="fixed-percentage", risk_percentage=2,
                  callbacks={"on_calculate": lambda q, params: seen.append((q, params["balance"]))})
    bt.add_sizing(sizing_name="broken", method="fixed-percentage", risk_percentage=2,
                  callbacks={"on_calculate": lambda q, params: 1 / 0})
    assert PositionSize.fixed_percentage("BTC", 10000, 50000, 49000, sizing_name="watched") == 0.2
    assert seen == [(0.2, 10000)]
    assert PositionSize.fixed_percentage("BTC", 10000, 50000, 49000, sizing_name="broken") == 0.2
    assert errors[0].where == "on_calculate"
